# A resource named in a string of a `Ref` field goes to that resource.
### file everything.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
cluster k3s {
  machine = "web"
}
### definition everything.ev 8:15
