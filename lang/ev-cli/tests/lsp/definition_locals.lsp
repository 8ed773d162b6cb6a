# Local names: a function parameter, a `let ... in` binding, a `for`
# variable.
### file everything.ev
let double = fn(x) => x * 2
let total = let base = 10 in base + double(base)
let names = ["h-${i}" for i in range(3)]
### definition everything.ev 1:23
### definition everything.ev 2:31
### definition everything.ev 3:19
