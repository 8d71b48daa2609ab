"""Attacks on ``TokenDecoder``, one module per class of attack.

Every token here is forged by the test itself (see ``_forge``), with raw
``cryptography`` primitives where python-jose would refuse to produce it.
"""
