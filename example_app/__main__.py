"""``python -m example_app``: serve the example over HTTPS on 127.0.0.1:8443."""

from __future__ import annotations

import os

import uvicorn

from .devmaterial import ensure_dev_material


def main() -> None:
    material = ensure_dev_material()
    port = int(os.environ.get("EXAMPLE_PORT", "8443"))
    print(f"Serving https://127.0.0.1:{port}  (self-signed: {material.cert_file})")
    uvicorn.run(
        "example_app.main:app",
        host="127.0.0.1",
        port=port,
        ssl_certfile=str(material.cert_file),
        ssl_keyfile=str(material.key_file),
        # uvicorn would otherwise rewrite the scheme from X-Forwarded-Proto
        # sent from 127.0.0.1 before the middleware sees the request; proxy
        # trust is the middleware's trusted_proxies decision alone.
        proxy_headers=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
