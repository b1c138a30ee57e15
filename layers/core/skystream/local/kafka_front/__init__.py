"""The local broker's front door: SASL/SCRAM and the ACL admin API in front of an unauthenticated tansu.

tansu 0.6 (the local broker) cannot authenticate anyone: its memory and s3 storages keep no
SCRAM credentials, so with ``--authentication`` every login fails (docs/local-stack.md,
"Authentication"). So the local stack runs tansu without authentication on a loopback port
nobody is told about, and puts this proxy in front of it: tansu advertises the proxy's address
(``--advertised-listener-url``), so every client, after bootstrapping, connects here.

What the proxy answers itself, and what it forwards:

- ``SaslHandshake`` / ``SaslAuthenticate`` with SCRAM-SHA-512 and -256 against its own credential
  store (salted keys only, as Kafka keeps them: never a password);
- ``AlterUserScramCredentials`` / ``DescribeUserScramCredentials``: the Kafka admin API a real
  cluster has for users; only the administrators named at start may alter;
- ``CreateAcls`` / ``DescribeAcls`` / ``DeleteAcls``: kept in memory so the Kafka admin API of
  ``skystream.streams.acls`` works here as on MSK. **They are stored, not enforced**: an
  authenticated user can read any topic locally (docs/streams.md, "Who may read a topic");
- everything else, after a successful login, is piped to tansu byte for byte; before a login the
  connection is closed at the first request that is not part of authenticating, as Kafka does.

Modules: ``wire`` (the protocol's encodings), ``scram`` (credentials and the SCRAM server),
``acls`` (the binding store and its filters), ``proxy`` (connections and the server), ``__main__``
(``python -m skystream.local.kafka_front``). Standard library only, so it starts in a few
tens of milliseconds as a process of its own.
"""
