# Host-specific settings of methanol.
{ config, lib, pkgs, ... }:
{
  networking.hostName = "methanol";
}
