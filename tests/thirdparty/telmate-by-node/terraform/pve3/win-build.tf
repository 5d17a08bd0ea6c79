resource "proxmox_vm_qemu" "qemu_106_win_build" {
  vmid        = 106
  name        = "win-build"
  description = ""
  target_node = var.node
  tags        = "ci"
  onboot      = false
  vm_state    = "stopped"
  agent       = 0
  qemu_os     = "win11"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  memory      = 8192

  cpu {
    cores   = 4
    sockets = 1
  }

  disks {
    scsi {
      scsi0 {
        disk {
          storage  = "nas-nfs"
          size     = "80G"
          iothread = true
        }
      }
      scsi1 {
        disk {
          storage  = "nas-nfs"
          size     = "40G"
          iothread = true
        }
      }
    }
  }

  network {
    id       = 0
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:06:01"
    firewall = true
  }
}
