// The flags shared by `run` and `create`, declared once. Values are parsed by
// spec/options.ts (parseRunFlags); here they are only collected.
import type { Command } from 'commander';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addContainerFlags(cmd: Command): Command {
  return addLimitFlags(cmd)
    .option('--name <name>', 'assign a name to the container')
    .option('-e, --env <VAR=value>', 'set environment variables', collect)
    .option('--env-file <file>', 'read a file of environment variables', collect)
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user name or UID, and optionally group')
    .option('--group-add <group>', 'add additional groups to join', collect)
    .option('--entrypoint <cmd>', 'overwrite the default ENTRYPOINT of the image')
    .option('-v, --volume <src:ctr[:opts]>', 'bind mount a host path (/host:/ctr), mount a named volume (NAME:/ctr) or an anonymous one (/ctr)', collect)
    .option('--volume-driver <driver>', 'driver of the volumes -v and the image create: local or a Docker volume plugin')
    .option('--mount <spec>', 'attach a filesystem mount (type=bind|volume|tmpfs,...)', collect)
    .option('--tmpfs <path[:opts]>', 'mount a tmpfs directory', collect)
    .option('--volumes-from <container[:ro|:rw]>', 'mount the volumes and bind mounts of another container, at the same paths', collect)
    .option('--read-only', 'mount the container\'s root filesystem as read only')
    .option('-h, --hostname <name>', 'container host name')
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping', collect)
    .option('--dns <ip>', 'set custom DNS servers', collect)
    .option('--dns-search <domain>', 'set custom DNS search domains', collect)
    .option('--network <mode>', 'connect a container to a network (none, host, bridge, container:NAME, or a network from `tsrun network create`)')
    .option('--network-alias <name>', 'another name peers on the user network resolve the container by', collect)
    .option('--net <mode>', 'alias of --network')
    .option('-p, --publish <[ip:]hostPort:containerPort>', 'publish a container\'s port to the host', collect)
    .option('-P, --publish-all', 'publish all exposed ports to random ports')
    .option('--ipc <mode>', 'IPC mode to use')
    .option('--uts <mode>', 'UTS namespace to use')
    .option('--pid <mode>', 'PID namespace to use')
    .option('--cgroupns <mode>', 'cgroup namespace to use: private (default; the container sees its own cgroup as the root) or host')
    .option('--init', 'run an init inside the container that forwards signals and reaps processes')
    .option('--privileged', 'give extended privileges to this container')
    .option('--cap-add <cap>', 'add Linux capabilities', collect)
    .option('--cap-drop <cap>', 'drop Linux capabilities', collect)
    .option('--security-opt <opt>', 'security options', collect)
    .option('--ulimit <name=soft[:hard]>', 'ulimit options', collect)
    .option('--sysctl <key=value>', 'sysctl options', collect)
    .option('--device <host[:ctr[:perms]]>', 'add a host device to the container', collect)
    .option('--shm-size <size>', 'size of /dev/shm')
    .option('--oom-kill-disable', 'disable OOM killer')
    .option('--cgroup-parent <path>', 'optional parent cgroup for the container')
    .option('--stop-signal <signal>', 'signal to stop the container')
    .option('--stop-timeout <seconds>', 'timeout (in seconds) to stop a container')
    .option('-l, --label <key=value>', 'set meta data on a container', collect)
    .option('--annotation <key=value>', 'add an annotation to the container', collect)
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--restart <policy>', 'restart policy to apply when a container exits', 'no')
    .option('--rm', 'automatically remove the container when it exits')
    .option('--pull <policy>', 'pull image before running (always, missing, never)', 'missing')
    .option('--platform <os/arch[/variant]>', 'set platform if the image is multi-platform')
    .option('--runtime <name|path>', 'OCI runtime to use: tsrun (default), runc, crun or a path')
    .option('-q, --quiet', 'suppress the pull output')
    .option('--pod <name>', 'run the container in an existing pod (joins its network, IPC and UTS namespaces)');
}

/** The cgroup limit flags, shared by `run`/`create` and `update` (parsed by spec's parseRunFlags). */
export function addLimitFlags(cmd: Command): Command {
  return cmd
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', 'swap limit equal to memory plus swap: -1 for unlimited')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--kernel-memory <bytes>', 'kernel memory limit (ignored)')
    .option('--cpus <n>', 'number of CPUs')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpu-period <us>', 'limit CPU CFS period')
    .option('--cpu-quota <us>', 'limit CPU CFS quota')
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <list>', 'MEMs in which to allow execution')
    .option('--pids-limit <n>', 'tune container pids limit (-1 for unlimited)')
    .option('--blkio-weight <n>', 'block IO weight (10-1000)')
    .option('--device-read-bps <dev:rate>', 'limit read rate from a device', collect)
    .option('--device-write-bps <dev:rate>', 'limit write rate to a device', collect);
}
