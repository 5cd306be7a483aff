#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the test directory as LDIF for slapadd: the suffix, a reader account, ou=people with
N users and ou=groups with one mail-enabled group.

User i (uid=user<i>) has mail user<i>@DOMAIN, mailAlternateAddress user<i>.alt@DOMAIN and
proxyAddresses SMTP:user<i>@DOMAIN, smtp:user<i>.proxy@DOMAIN and an X500: value, so an
OpenLDAP-flavoured source sees user<i> and user<i>.alt, an AD-flavoured one user<i> and
user<i>.proxy, and neither ever sees an X500 value.

usage: mkldif.py N DOMAIN READER_PASSWORD > fixtures.ldif
"""
import sys


def main():
    n, domain, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    base = ",".join("dc=" + p for p in domain.split("."))
    out = sys.stdout
    w = out.write
    w("dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: ndrguard test\ndc: %s\n\n"
      % (base, domain.split(".")[0]))
    w("dn: cn=reader,%s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
      "cn: reader\nuserPassword: %s\n\n" % (base, password))
    w("dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n" % base)
    w("dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n\n" % base)
    w("dn: cn=staff,ou=groups,%s\nobjectClass: groupOfNames\nobjectClass: ndgMailRecipient\n"
      "cn: staff\nmember: cn=reader,%s\nmail: staff@%s\nproxyAddresses: SMTP:staff@%s\n"
      "proxyAddresses: smtp:all-staff@%s\nproxyAddresses: X400:c=US;a= ;p=Example;s=staff\n\n"
      % (base, base, domain, domain, domain))
    for i in range(n):
        w("dn: uid=user%d,ou=people,%s\nobjectClass: inetOrgPerson\nobjectClass: ndgMailRecipient\n"
          "uid: user%d\ncn: User %d\nsn: %d\nmail: user%d@%s\nmailAlternateAddress: user%d.alt@%s\n"
          "proxyAddresses: SMTP:user%d@%s\nproxyAddresses: smtp:user%d.proxy@%s\n"
          "proxyAddresses: X500:/o=Example/ou=Exchange/cn=Recipients/cn=user%d\n\n"
          % (i, base, i, i, i, i, domain, i, domain, i, domain, i, domain, i))


if __name__ == "__main__":
    main()
