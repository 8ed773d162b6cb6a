# In a resource body, completion offers the schema's fields not written
# yet (required first) with their documentation.
### file everything.ev
machine web {
  platform = "x86_64-linux"

}
### completion everything.ev 3:3 20
