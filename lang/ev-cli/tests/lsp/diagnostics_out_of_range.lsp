# Values the tools (and ev's typed backends) cannot hold are coded check
# diagnostics at the user's value in the editor too, never an internal
# error later: a zone TTL over 2^31-1, a record TTL over 2^32, an SRV port,
# an MX preference, CAA flags, replicas past 2^31-1 and a node port outside
# Kubernetes' range.
### file everything.ev
let cf = { name = "cloudflare", class = "octodns_cloudflare.CloudflareProvider" }
domain "example.test" {
  provider = cf
  ttl = 5000000000
  records = [
    a("www", "192.0.2.1", ttl = 4294967296),
    srv("_sip._tcp", [{ priority = 1, weight = 1, port = 99999, target = "sip.example.net." }]),
    mx("", [{ preference = 70000, exchange = "mail.example.net." }]),
    caa("", [{ flags = 300, tag = "issue", value = "letsencrypt.org" }]),
  ]
}
cluster edge { context = "edge" }
app web {
  cluster = "edge"
  image = "docker.io/example/app@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  replicas = 3000000000
  ports = [{ container = 80, node_port = 8080 }]
}
### open everything.ev
### diagnostics
