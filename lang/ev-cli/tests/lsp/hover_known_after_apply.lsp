# Before the stack was applied, its outputs are unknown.
### file everything.ev
export stack jupiter {
  project = "jupiter"
  stack = "prod"
  resources = []
}
let address = stack.jupiter.outputs.ethane.ipAddress
### hover everything.ev 6:45
