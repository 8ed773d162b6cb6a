# Workspace symbols match a query across every file of the program.
### file everything.ev
import "hosts.ev" as hosts
let web_port = 8080
### file hosts.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
machine webcache {
  platform = "x86_64-linux"
  os = "nixos"
  activation = { method = "nixos-rebuild" }
}
### workspace-symbols web
