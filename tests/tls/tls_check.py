#!/usr/bin/env python3
"""TLS for `govtrail serve` (cli/tests/it/serve.rs), with Python's own TLS stack as the client.

    tls_check.py make DIR          writes DIR/ca.pem (a P-256 CA), DIR/cert.pem and DIR/key.pem
                                   (the server's certificate for 127.0.0.1, signed by the CA;
                                   the `cryptography` package)
    tls_check.py get URL CAFILE    GETs URL trusting only CAFILE; prints the status and body
    tls_check.py untrusted URL     GETs URL with the system's trust store: must fail
"""
import datetime
import ipaddress
import os
import ssl
import sys
import urllib.request

if sys.argv[1] == "make":
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, public_key, signing_key, ca):
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                critical=False)
        return b.sign(signing_key, hashes.SHA256())

    # A CA (ca.pem, what clients trust) and the server's certificate it signs (cert.pem,
    # key.pem): rustls, like browsers, refuses a CA certificate used as the server's own.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "govtrail-test CA")])
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "govtrail-test")])
    cert = build(name, ca_name, key.public_key(), ca_key, False)
    d = sys.argv[2]
    with open(os.path.join(d, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(d, "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(os.path.join(d, "key.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
elif sys.argv[1] == "get":
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    with urllib.request.urlopen(sys.argv[2], context=ctx, timeout=10) as r:
        print(r.status, r.read().decode().strip(), r.version)
elif sys.argv[1] == "untrusted":
    try:
        urllib.request.urlopen(sys.argv[2], context=ssl.create_default_context(), timeout=10)
    except Exception as e:  # the certificate is not trusted
        print("refused:", type(e).__name__)
        sys.exit(0)
    sys.exit("an untrusted certificate was accepted")
