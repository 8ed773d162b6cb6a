# Host-specific settings of ethane.
{ config, lib, pkgs, ... }:
{
  networking.hostName = "ethane";
}
