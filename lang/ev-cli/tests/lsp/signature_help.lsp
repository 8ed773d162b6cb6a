# Inside a call: the function's parameters with their defaults, its
# documentation, and the parameter being written (by position or name).
### file everything.ev
domain "example.test" {
  records = [
    a("www", "192.0.2.1", ttl = 60),
  ]
}
let host = cidr_host("192.0.2.0/24", 5)
## Doubles a number.
let double = fn(x, times = 2) => x * times
let four = double(2, times = 2)
### signature everything.ev 3:11
### signature everything.ev 3:18
### signature everything.ev 3:32
### signature everything.ev 6:39
### signature everything.ev 9:20
### signature everything.ev 9:31
### signature everything.ev 1:3
