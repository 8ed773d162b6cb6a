# A string naming a resource in a `Ref` field shows that resource.
### file everything.ev
## The home server.
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
cluster home { machine = "web" }
### hover everything.ev 8:28
