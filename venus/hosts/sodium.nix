# Yuto's laptop (nix-darwin).
{ config, lib, pkgs, ... }:
{
  networking.hostName = "sodium";
  homebrew.enable = true;
  system.stateVersion = 4;
}
