"""Hashes of "taro1234" as an earlier POP server stored them, one per scheme Dovecot
verifies; all but {CRYPT} (DES, which doveadm no longer writes) made by `doveadm pw -s`."""

from __future__ import annotations

PASSWORD = "taro1234"
HASHES = {
    "ARGON2ID": "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$ffVfQ04o9QllhDC31hfaig$"
    "58Qy/HxSMfHjx5zfOVNYve8nKTaCeI2HKCgEetf/wLI",
    "SHA512-CRYPT": "{SHA512-CRYPT}$6$lIFCA9W97qGkXGft$a84BA8sF3PspXDrv/dt3H0i6xhErkPsrIY"
    "swlbp.02Wr.cLFUSyqYC4k34YKktcC0Vf7VGfuKMO5AxHRn.L5/1",
    "SHA256-CRYPT": "{SHA256-CRYPT}$5$IS/CdGtTlDJ2JbO4$nRL3oh.DjyPv297pG.heVniZzthSi.HN5dTO9h/mTf3",
    "BLF-CRYPT": "{BLF-CRYPT}$2y$05$7Qs3KdlKy/4Wbxj3iDniNe0wzMj5T6p/CeOR1ohwWng/m8JgZvcZW",
    "MD5-CRYPT": "{MD5-CRYPT}$1$A2Il0ljK$XVI3qrLKNyBqjBwdHHbfO.",
    "SSHA512": "{SSHA512}iRUSDXwWVVPZygyddR5CAv3mTvwoKDcfDZ9NyPWMlnR4rNZAxWGxneolIRWYUd4uKILK"
    "U1PQvjhlXsK+I2knxjD6ANo=",
    "SSHA": "{SSHA}0U/uvRU0NMqmPAsmBDUax8BnpnuspDr4",
    "CRYPT": "{CRYPT}abnOaaZ8JOcqY",
    "PLAIN-MD5": "{PLAIN-MD5}afd49503a8d7c8c746e4018dad6e4f64",
}
# The other forms of the same schemes: {CRYPT} holding a modular hash, base64 MD5.
VARIANTS = {
    "CRYPT": "{CRYPT}$2y$05$pxqxETatKIzEcA5XjJNqUeDjEwlzMeTSmS0PGJ906fNKU55NRjKNO",
    "PLAIN-MD5": "{PLAIN-MD5}r9SVA6jXyMdG5AGNrW5PZA==",
}
