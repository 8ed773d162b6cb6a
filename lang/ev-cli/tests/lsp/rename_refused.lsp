# Renames that would break the program are refused with a reason.
### file everything.ev
import { port } from "lib.ev"
let other = 1
let host = cidr_host("192.0.2.0/24", port)
let web_ip = "192.0.2.10"
domain "example.test" {
  records = [a("www", web_ip)]
}
### file lib.ev
export let port = 8080
### rename everything.ev 3:14 cidr
### rename everything.ev 1:11 other
### rename everything.ev 2:6 9lives
### rename everything.ev 5:10 example
### prepare-rename everything.ev 5:3
### rename everything.ev 4:6 a
### rename everything.ev 4:6 len
