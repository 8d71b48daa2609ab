"""Independent JOSE peers (jwcrypto, joserfc, panva/jose) for interoperability tests."""
