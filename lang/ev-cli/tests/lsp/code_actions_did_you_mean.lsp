# Diagnostics with close candidates offer quick fixes: a misspelled name,
# a field not in the schema, a value not allowed, an undeclared resource.
### file everything.ev
let port = 8080
let url = "http://example.test:${prot}"
machine web {
  platform = "x86_64-linux"
  os = "nixso"
  activaton = { method = "nixos-rebuild" }
}
cluster k3s {
  machine = "wbe"
}
### open everything.ev
### diagnostics
### code-actions everything.ev 2:35
### code-actions everything.ev 5:10
### code-actions everything.ev 6:5
### code-actions everything.ev 9:15
### code-actions everything.ev 1:2
