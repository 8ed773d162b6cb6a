# A resource reference (`machine.web`) goes to its declaration in another
# file.
### file everything.ev
import "hosts.ev" as hosts
let address = machine.web.address
### file hosts.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
### definition everything.ev 2:24
### definition everything.ev 2:28
