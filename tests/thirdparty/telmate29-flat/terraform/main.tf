terraform {
  required_version = ">= 1.5.0"

  required_providers {
    proxmox = {
      source  = "telmate/proxmox"
      version = "~> 2.9"
    }
  }
}

provider "proxmox" {
  pm_api_url          = var.pm_api_url
  pm_api_token_id     = var.pm_api_token_id
  pm_api_token_secret = var.pm_api_token_secret
  pm_tls_insecure     = false
}

variable "pm_api_url" {
  type    = string
  default = "https://pve1.homelab.lan:8006/api2/json"
}

variable "pm_api_token_id" {
  type    = string
  default = "terraform@pve!homelab"
}

variable "pm_api_token_secret" {
  type      = string
  sensitive = true
}

# the node most guests live on
variable "default_node" {
  type    = string
  default = "pve1"
}
