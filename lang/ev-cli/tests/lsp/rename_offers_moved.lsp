# Renaming a machine changes its action's id (`venus:web:deploy`): the
# rename offers a `moved` after the declaration, for the user to confirm,
# so the next plan keeps what the old id applied.
### file everything.ev
import "venus/hosts.ev" as hosts
### file venus/hosts.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
let address = machine.web.address
### rename venus/hosts.ev 1:9 frontend
