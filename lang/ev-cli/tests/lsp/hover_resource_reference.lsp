# A resource reference shows the resource's declaration and value.
### file everything.ev
## The web server.
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
let address = machine.web.address
### hover everything.ev 8:24
