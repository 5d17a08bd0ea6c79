resource "proxmox_vm_qemu" "qemu_100_tmpl_debian12" {
  vmid        = 100
  name        = "tmpl-debian12"
  description = ""
  target_node = var.node
  tags        = "template"
  onboot      = false
  vm_state    = "stopped"
  agent       = 0
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  memory      = 2048

  cpu {
    cores   = 2
    sockets = 1
  }

  disks {
    scsi {
      scsi0 {
        disk {
          storage  = "local-lvm"
          size     = "16G"
          iothread = true
        }
      }
    }
  }

  network {
    id       = 0
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:00:01"
    firewall = true
  }

  lifecycle {
    prevent_destroy = true
  }
}
