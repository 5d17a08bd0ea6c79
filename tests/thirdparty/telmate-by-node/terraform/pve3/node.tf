terraform {
  required_providers {
    proxmox = {
      source = "Telmate/proxmox"
    }
  }
}

variable "node" {
  type        = string
  description = "The node every guest of this directory runs on"
}
