"""Verifies Gatehouse access tokens the way an unrelated resource server would: PyJWT (from
PyPI) with nothing but the JWKS document.

Usage: verify_jwt.py JWKS_URL ISSUER TOKEN...
Prints one line per token: "ok <kid>" or "refused <kid>: <PyJWT's reason>".
"""
import sys

import jwt


def main():
    url, issuer, tokens = sys.argv[1], sys.argv[2], sys.argv[3:]
    # A fresh client per run: nothing cached from an earlier JWKS.
    client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False)
    for token in tokens:
        kid = jwt.get_unverified_header(token).get("kid")
        try:
            key = client.get_signing_key_from_jwt(token)
            jwt.decode(token, key.key, algorithms=["ES256"], issuer=issuer, options={"require": ["exp", "iat", "sub"]})
            print("ok %s" % kid, flush=True)
        except jwt.PyJWTError as error:
            print("refused %s: %s" % (kid, error), flush=True)


if __name__ == "__main__":
    main()
