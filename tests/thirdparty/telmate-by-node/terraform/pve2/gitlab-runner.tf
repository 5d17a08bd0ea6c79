resource "proxmox_vm_qemu" "qemu_107_gitlab_runner" {
  vmid        = 107
  name        = "gitlab-runner"
  description = ""
  target_node = var.node
  tags        = "ci"
  onboot      = false
  vm_state    = "running"
  agent       = 0
  qemu_os     = "l26"
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
          storage  = "local-lvm"
          size     = "50G"
          iothread = true
        }
      }
    }
  }

  network {
    id       = 0
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:07:01"
    firewall = true
  }
}
