# propane: NixOS on WSL, on Yuto's Windows desktop.
{ config, lib, pkgs, ev, ... }:
{
  networking.hostName = "propane";
  system.stateVersion = "24.05";
}
