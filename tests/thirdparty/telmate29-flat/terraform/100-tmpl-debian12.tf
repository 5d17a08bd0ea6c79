# a template: the 2.9 provider has no template argument; a plan must never touch it
resource "proxmox_vm_qemu" "vm_tmpl_debian12" {
  name        = "tmpl-debian12"
  vmid        = 100
  target_node = var.default_node
  tags        = "template"
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  cores       = 2
  sockets     = 1
  memory      = 2048

  disk {
    type     = "scsi"
    storage  = "local-lvm"
    size     = "16G"
    iothread = 1
  }

  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:00:01"
    firewall = true
  }

  lifecycle {
    ignore_changes = all
  }
}

import {
  to = proxmox_vm_qemu.vm_tmpl_debian12
  id = "pve1/qemu/100"
}
