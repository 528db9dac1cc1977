/**
 * @module trace/strace/fdcalls
 * System calls whose first argument is a file descriptor (or a directory fd for the `*at` calls), so that an
 * undecorated integer first argument can be reported as `args.fd`. With `strace -y`/`-yy` every fd argument is
 * decorated (`3</etc/passwd>`), and a decorated first argument is an fd whatever the call.
 */

export const FIRST_ARG_FD: ReadonlySet<string> = new Set([
  // I/O on an fd
  'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
  'close', 'lseek', '_llseek', 'llseek', 'ioctl', 'fcntl', 'fcntl64', 'dup', 'dup2', 'dup3', 'flock',
  'fsync', 'fdatasync', 'syncfs', 'sync_file_range', 'sync_file_range2', 'ftruncate', 'ftruncate64',
  'fallocate', 'fadvise64', 'fadvise64_64', 'readahead', 'getdents', 'getdents64', 'readdir',
  'fstat', 'fstat64', 'oldfstat', 'fstatfs', 'fstatfs64', 'fchdir', 'fchmod', 'fchown', 'fchown32',
  'fgetxattr', 'fsetxattr', 'flistxattr', 'fremovexattr', 'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice',
  'copy_file_range', 'finit_module', 'setns', 'quotactl_fd',
  // directory fd first (`*at` calls)
  'openat', 'openat2', 'newfstatat', 'fstatat64', 'statx', 'mkdirat', 'mknodat', 'unlinkat', 'renameat',
  'renameat2', 'linkat', 'readlinkat', 'faccessat', 'faccessat2', 'fchmodat', 'fchmodat2', 'fchownat',
  'futimesat', 'utimensat', 'name_to_handle_at', 'open_by_handle_at', 'execveat', 'open_tree', 'move_mount',
  'fspick', 'mount_setattr', 'getxattrat', 'setxattrat', 'listxattrat', 'removexattrat',
  // sockets
  'connect', 'bind', 'listen', 'accept', 'accept4', 'getsockname', 'getpeername', 'sendto', 'recvfrom',
  'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'setsockopt', 'getsockopt', 'shutdown',
  // event and notification fds
  'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'inotify_add_watch', 'inotify_rm_watch',
  'fanotify_mark', 'timerfd_settime', 'timerfd_gettime', 'signalfd', 'signalfd4',
  'io_uring_enter', 'io_uring_register', 'pidfd_send_signal', 'pidfd_getfd', 'process_madvise',
  'fsconfig', 'fsmount', 'landlock_add_rule', 'landlock_restrict_self',
]);
