# Read by every machine: `ev` holds the values ev passes (ev.machine, ev.magic).
{ ev, ... }:
{
  networking.hostName = ev.machine.name;
  services.openssh.enable = true;
}
