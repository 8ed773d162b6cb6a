# Every use of a resource: field accesses in other files and strings in
# `Ref` fields.
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
let tags = machine.web.tags
### references everything.ev 1:10
### references everything.ev 2:10
### references everything.ev 2:10 no-declaration
