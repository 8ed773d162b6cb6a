# Renaming a resource edits its declaration, field accesses and the
# strings of `Ref` fields naming it.
### file everything.ev
import "apps.ev" as apps
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
cluster k3s {
  machine = "web"
}
### file apps.ev
let address = machine.web.address
### rename apps.ev 1:24 frontend
