/*
 * hardenkit-exec: confine this process with a script of syscalls, then exec a command.
 *
 * hardenkit.spawn starts this small static program (vfork + exec, never a fork of the
 * Python parent) instead of running Python between fork and exec. It knows no policy:
 * the parent sends a script of steps over a socket, this program makes each syscall in
 * order, reports what the kernel says (its /proc status, limits, prctl answers, probe
 * results: the Landlock path probes and the network probes' socket errnos), and waits. The parent checks the report in Python and answers 'G' (go) or
 * closes the socket; only after 'G' does this program exec the command. Any failed step
 * is reported and ends this program with status 127: nothing unconfined ever runs.
 *
 *   hardenkit-exec CTL_FD EXECUTABLE ARGV0 [ARGS...]     (environment: the command's)
 *   hardenkit-exec --pdeathsig PPID PIDFD CLOEXEC_FD EXECUTABLE ARGV0 [ARGS...]
 *
 * The second form confines nothing: it sets the parent-death signal (SIGKILL) of a
 * command started without confinement, checks that the parent PPID still lives (its
 * pidfd PIDFD when this process is pid 1 of a new PID namespace, where getppid() is 0),
 * marks CLOEXEC_FD close-on-exec (-1: none) and execs. A gone parent or a failed step
 * ends it with status 127 before the exec, with one line on stderr.
 *
 * Messages on CTL_FD, all integers little-endian:
 *   parent -> helper: "HKX1", u32 length, then steps: u32 op, u32 size, size bytes.
 *   helper -> parent: frames u32 kind, u32 size, payload:
 *     kind 1 REPORT: records u32 step index, u32 size, bytes (see the ops below);
 *     kind 2 FAILED: u32 step index, i32 errno (the step failed; the helper exits 127);
 *     kind 3 EXEC:   i32 errno (execve failed; the helper exits 127).
 *   Success is end-of-file: CTL_FD is close-on-exec, so the exec itself closes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_seccomp
#error "seccomp syscall number unknown"
#endif

enum {
    OP_PRCTL = 1,      /* 5 x u64: prctl(a, b, c, d, e) must not fail */
    OP_BOUNDING = 2,   /* u64 keep, u64 last_cap: PR_CAPBSET_DROP every cap not kept */
    OP_SETGROUPS = 3,  /* n x u32 */
    OP_SETRESGID = 4,  /* 3 x u64 (0xffffffff: unchanged) */
    OP_SETRESUID = 5,  /* 3 x u64 */
    OP_CAPSET = 6,     /* u64 effective, permitted, inheritable */
    OP_AMBIENT = 7,    /* u64 mask, u64 last_cap: clear all, raise the mask */
    OP_RLIMIT = 8,     /* u64 resource, soft, hard */
    OP_SECCOMP = 9,    /* u64 flags, then the BPF program (8-byte instructions) */
    OP_LANDLOCK = 10,  /* u64 ruleset fd: landlock_restrict_self, then close */
    OP_CLOEXEC = 11,   /* u64 fd: mark close-on-exec */
    OP_PRCTL_EXPECT = 12, /* u64 option, arg, expected: prctl must return it (else EPROTO) */
    OP_STATUS = 20,    /* report /proc/thread-self/status */
    OP_PRCTL_GET = 21, /* u64 option, arg: report i64 result, i32 errno */
    OP_GETRLIMIT = 22, /* u64 resource: report u64 soft, hard */
    OP_GETGROUPS = 23, /* report n x u32 */
    OP_PROBE_OPEN = 24,  /* path: open O_RDONLY|O_DIRECTORY; report i32 errno (0: opened) */
    OP_PROBE_MKDIR = 25, /* path: mkdir 0700 (removed again); report i32 errno */
    OP_PROBE_MKNOD = 26, /* path: mknod char 1:3 0600 (removed again); report i32 errno */
    OP_PROBE_SOCKET = 27, /* u64 action, family, type, port: report i32 errno of socket()
                             (or socketpair()), i32 errno of the action (see net_probe) */
    OP_PROBE_SIGNAL = 28, /* report i32 getppid(), i32 errno of kill(ppid, 0) (-1: not sent) */
    OP_ABSTRACT_LISTEN = 29, /* bind a datagram socket to an autobound abstract UNIX name
                                (the target of a later AF_UNIX CONNECT probe; closed by
                                the exec). Datagram: nothing queues on its connect, so no
                                other process can make that probe wait or fail */
    OP_SYNC = 30,      /* send the reports, wait for 'G' */
};

#define SCRIPT_MAX (1u << 20)
#define REPORT_MAX (1u << 16)

static unsigned char script[SCRIPT_MAX];
static unsigned char report[REPORT_MAX];
static uint32_t report_len;
static int ctl = -1;

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static int write_all(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(ctl, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = read(ctl, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void frame(uint32_t kind, const void *payload, uint32_t size)
{
    unsigned char head[8];
    put32(head, kind);
    put32(head + 4, size);
    if (write_all(head, 8) == 0 && size > 0)
        write_all(payload, size);
}

static _Noreturn void fail(uint32_t step, int err)
{
    unsigned char body[8];
    put32(body, step);
    put32(body + 4, (uint32_t)err);
    frame(2, body, 8);
    _exit(127);
}

static void record(uint32_t step, const void *data, uint32_t size)
{
    /* Two comparisons: REPORT_MAX - 8 - report_len alone wraps once report_len passes
     * REPORT_MAX - 8, and a huge size would then seem to fit. */
    if (report_len > REPORT_MAX - 8 || size > REPORT_MAX - 8 - report_len)
        fail(step, ENOSPC);
    put32(report + report_len, step);
    put32(report + report_len + 4, size);
    memcpy(report + report_len + 8, data, size);
    report_len += 8 + size;
}

static void status_report(uint32_t step)
{
    char buf[8192];
    size_t len = 0;
    int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail(step, errno);
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(step, errno);
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf)
            fail(step, EFBIG);
    }
    close(fd);
    record(step, buf, (uint32_t)len);
}

static int bounding(uint64_t keep, uint64_t last_cap)
{
    for (uint64_t cap = 0; cap <= last_cap && cap < 64; cap++) {
        if (keep >> cap & 1)
            continue;
        if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) == 0)
            continue;
        /* Without CAP_SETPCAP a drop is refused; a capability already absent is fine. */
        int err = errno;
        if (err != EPERM || prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) != 0)
            return err;
    }
    return 0;
}

struct cap_header { uint32_t version; int pid; };
struct cap_data { uint32_t effective, permitted, inheritable; };

static int capset3(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct cap_header h = { 0x20080522, 0 };  /* _LINUX_CAPABILITY_VERSION_3 */
    struct cap_data d[2] = {
        { (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
        { (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
    };
    return syscall(SYS_capset, &h, d) == 0 ? 0 : errno;
}

static int ambient(uint64_t mask, uint64_t last_cap)
{
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        return errno;
    for (uint64_t cap = 0; cap <= last_cap && cap < 64; cap++)
        if (mask >> cap & 1 &&
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0, 0) != 0)
            return errno;
    return 0;
}

struct sock_fprog_ { unsigned short len; const void *filter; };

enum { NET_SOCKET = 0, NET_PAIR = 1, NET_BIND = 2, NET_CONNECT = 3, NET_LISTEN = 4 };

static struct sockaddr_un abstract_name;
static socklen_t abstract_len;

/* A datagram socket on an abstract name the kernel picks, made before the network
 * domain: a connect to it from inside must be refused by the abstract UNIX socket scope
 * (security_unix_may_send). Not a stream listener: its name is visible to every user in
 * /proc/net/unix, and a backlog filled from outside answers a connect with EAGAIN (or
 * blocks it) before Landlock is asked. A datagram connect has no backlog. */
static int abstract_listen(void)
{
    sa_family_t family = AF_UNIX;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    abstract_len = sizeof abstract_name;
    if (bind(fd, (struct sockaddr *)&family, sizeof family) != 0 ||
        getsockname(fd, (struct sockaddr *)&abstract_name, &abstract_len) != 0) {
        int err = errno;
        close(fd);
        abstract_len = 0;
        return err;
    }
    if (abstract_len <= sizeof family || abstract_name.sun_path[0] != 0) {
        close(fd);
        abstract_len = 0;
        return EPROTO;
    }
    return 0;  /* fd stays open (close-on-exec) while the probes run */
}

/*
 * A network probe: make a socket (or an AF_UNIX socket pair) and, for BIND/CONNECT, bind
 * or connect it (non-blocking) to PORT on the loopback address of FAMILY (AF_UNIX: to the
 * OP_ABSTRACT_LISTEN name); LISTEN listens on it unbound. out[0] is socket()'s errno, out[1] the action's (0: it worked). The
 * parent judges both; nothing here knows what is expected.
 */
static int net_probe(const unsigned char *arg, int32_t out[2])
{
    uint64_t action = get64(arg), family = get64(arg + 8), type = get64(arg + 16);
    uint64_t port = get64(arg + 24);
    int fd, pair[2];
    if (action > NET_LISTEN || family > 64 || type > 15 || port > 65535)
        return EINVAL;
    out[0] = out[1] = 0;
    if (action == NET_PAIR) {
        if (socketpair((int)family, (int)type | SOCK_CLOEXEC, 0, pair) != 0) {
            out[0] = errno;
        } else {
            close(pair[0]);
            close(pair[1]);
        }
        return 0;
    }
    /* Non-blocking for every action: a probe never waits on another process. */
    fd = socket((int)family, (int)type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        out[0] = errno;
        return 0;
    }
    if (action == NET_BIND || action == NET_CONNECT) {
        struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
        struct sockaddr *sa = (struct sockaddr *)&in4;
        socklen_t len = sizeof in4;
        in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in6.sin6_addr = in6addr_loopback;
        if (family == AF_INET6) {
            sa = (struct sockaddr *)&in6;
            len = sizeof in6;
        } else if (family == AF_UNIX && action == NET_CONNECT && abstract_len > 0) {
            sa = (struct sockaddr *)&abstract_name;
            len = abstract_len;
        } else if (family != AF_INET) {
            close(fd);
            return EINVAL;
        }
        int rc = action == NET_BIND ? bind(fd, sa, len) : connect(fd, sa, len);
        out[1] = rc == 0 ? 0 : errno;
    } else if (action == NET_LISTEN) {
        out[1] = listen(fd, 1) == 0 ? 0 : errno;
    }
    close(fd);
    return 0;
}

/* Make one step; return 0 or an errno. Sizes were checked by the caller. */
static int step(uint32_t index, uint32_t op, const unsigned char *arg, uint32_t size)
{
    char path[4096];
    int64_t got[2];
    int32_t err32;
    switch (op) {
    case OP_PRCTL:
        if (size != 40)
            return EINVAL;
        return prctl((int)get64(arg), (unsigned long)get64(arg + 8), (unsigned long)get64(arg + 16),
                     (unsigned long)get64(arg + 24), (unsigned long)get64(arg + 32)) < 0 ? errno : 0;
    case OP_BOUNDING:
        return size == 16 ? bounding(get64(arg), get64(arg + 8)) : EINVAL;
    case OP_SETGROUPS: {
        gid_t gids[256];
        if (size % 4 || size / 4 > 256)
            return EINVAL;
        for (uint32_t i = 0; i < size / 4; i++)
            gids[i] = get32(arg + 4 * i);
        return setgroups(size / 4, gids) == 0 ? 0 : errno;
    }
    case OP_SETRESGID:
        if (size != 24)
            return EINVAL;
        return setresgid((gid_t)get64(arg), (gid_t)get64(arg + 8), (gid_t)get64(arg + 16)) == 0 ? 0 : errno;
    case OP_SETRESUID:
        if (size != 24)
            return EINVAL;
        return setresuid((uid_t)get64(arg), (uid_t)get64(arg + 8), (uid_t)get64(arg + 16)) == 0 ? 0 : errno;
    case OP_CAPSET:
        return size == 24 ? capset3(get64(arg), get64(arg + 8), get64(arg + 16)) : EINVAL;
    case OP_AMBIENT:
        return size == 16 ? ambient(get64(arg), get64(arg + 8)) : EINVAL;
    case OP_RLIMIT: {
        if (size != 24)
            return EINVAL;
        struct rlimit64 lim = { get64(arg + 8), get64(arg + 16) };
        return setrlimit64((int)get64(arg), &lim) == 0 ? 0 : errno;
    }
    case OP_SECCOMP: {
        if (size < 16 || (size - 8) % 8 || (size - 8) / 8 > 4096)
            return EINVAL;
        struct sock_fprog_ prog = { (unsigned short)((size - 8) / 8), arg + 8 };
        long rc = syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, (unsigned long)get64(arg), &prog);
        return rc == 0 ? 0 : rc > 0 ? EBUSY : errno;
    }
    case OP_LANDLOCK: {
        if (size != 8)
            return EINVAL;
        int fd = (int)get64(arg);
        if (syscall(SYS_landlock_restrict_self, fd, 0) != 0)
            return errno;
        close(fd);
        return 0;
    }
    case OP_CLOEXEC:
        if (size != 8)
            return EINVAL;
        return fcntl((int)get64(arg), F_SETFD, FD_CLOEXEC) == 0 ? 0 : errno;
    case OP_PRCTL_EXPECT:
        if (size != 24)
            return EINVAL;
        return prctl((int)get64(arg), (unsigned long)get64(arg + 8), 0, 0, 0) == (long)get64(arg + 16)
                   ? 0 : EPROTO;
    case OP_STATUS:
        status_report(index);
        return 0;
    case OP_PRCTL_GET:
        if (size != 16)
            return EINVAL;
        errno = 0;
        got[0] = prctl((int)get64(arg), (unsigned long)get64(arg + 8), 0, 0, 0);
        got[1] = got[0] < 0 ? errno : 0;
        record(index, got, 16);
        return 0;
    case OP_GETRLIMIT: {
        struct rlimit64 lim;
        if (size != 8)
            return EINVAL;
        if (getrlimit64((int)get64(arg), &lim) != 0)
            return errno;
        uint64_t pair[2] = { lim.rlim_cur, lim.rlim_max };
        record(index, pair, 16);
        return 0;
    }
    case OP_GETGROUPS: {
        gid_t gids[256];
        uint32_t out[256];
        int n = getgroups(256, gids);
        if (n < 0)
            return errno;
        for (int i = 0; i < n; i++)
            out[i] = gids[i];
        record(index, out, (uint32_t)n * 4);
        return 0;
    }
    case OP_PROBE_OPEN:
    case OP_PROBE_MKDIR:
    case OP_PROBE_MKNOD:
        if (size == 0 || size >= sizeof path || memchr(arg, 0, size))
            return EINVAL;
        memcpy(path, arg, size);
        path[size] = 0;
        if (op == OP_PROBE_OPEN) {
            int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            err32 = fd < 0 ? errno : 0;
            if (fd >= 0)
                close(fd);
        } else if (op == OP_PROBE_MKDIR) {
            err32 = mkdir(path, 0700) == 0 ? 0 : errno;
            if (err32 == 0)
                rmdir(path);
        } else {
            err32 = mknod(path, S_IFCHR | 0600, makedev(1, 3)) == 0 ? 0 : errno;
            if (err32 == 0)
                unlink(path);
        }
        record(index, &err32, 4);
        return 0;
    case OP_PROBE_SOCKET: {
        int32_t out[2];
        int err;
        if (size != 32)
            return EINVAL;
        if ((err = net_probe(arg, out)) != 0)
            return err;
        record(index, out, 8);
        return 0;
    }
    case OP_PROBE_SIGNAL: {
        int32_t out[2];
        if (size != 0)
            return EINVAL;
        out[0] = (int32_t)getppid();
        out[1] = out[0] > 1 ? (kill(out[0], 0) == 0 ? 0 : errno) : -1;
        record(index, out, 8);
        return 0;
    }
    case OP_ABSTRACT_LISTEN:
        return size == 0 ? abstract_listen() : EINVAL;
    case OP_SYNC: {
        char go = 0;
        frame(1, report, report_len);
        report_len = 0;
        if (read_all(&go, 1) != 0 || go != 'G')
            _exit(126);  /* the parent refused or is gone: never exec */
        return 0;
    }
    default:
        return ENOSYS;
    }
}

static _Noreturn void die(const char *what, int err)
{
    static const char head[] = "hardenkit-exec: ";
    (void)!write(2, head, sizeof head - 1);
    (void)!write(2, what, strlen(what));
    if (err) {
        const char *msg = strerror(err);
        (void)!write(2, ": ", 2);
        (void)!write(2, msg, strlen(msg));
    }
    (void)!write(2, "\n", 1);
    _exit(127);
}

static long number(const char *text, long low, long high)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < low || value > high)
        die("malformed --pdeathsig argument", 0);
    return value;
}

/* The --pdeathsig form: argv[2..4] are PPID, PIDFD, CLOEXEC_FD, then the command. */
static int pdeathsig_exec(int argc, char **argv, char **envp)
{
    if (argc < 7)
        die("usage: --pdeathsig PPID PIDFD CLOEXEC_FD EXECUTABLE ARGV0 [ARGS...]", 0);
    pid_t parent = (pid_t)number(argv[2], 1, 0x7fffffff);
    long pidfd = number(argv[3], -1, 65535);
    long cloexec = number(argv[4], -1, 65535);
    if (prctl(PR_SET_PDEATHSIG, 9 /* SIGKILL */, 0, 0, 0) != 0)
        die("prctl(PR_SET_PDEATHSIG)", errno);
    /* The race: a parent killed before the prctl above sent nothing. */
    pid_t now = getppid();
    if (now != parent) {
        struct pollfd gone = { (int)pidfd, POLLIN, 0 };
        if (now != 0 || pidfd < 0)
            die("the parent is gone", 0);
        int ready = poll(&gone, 1, 0);
        if (ready != 0)
            die("the parent is gone", ready < 0 ? errno : 0);
    }
    if (pidfd >= 0)
        close((int)pidfd);
    if (cloexec >= 0 && fcntl((int)cloexec, F_SETFD, FD_CLOEXEC) != 0)
        die("marking the pinned executable close-on-exec", errno);
    execve(argv[5], argv + 6, envp);
    die(argv[5], errno);
}

int main(int argc, char **argv, char **envp)
{
    if (argc > 1 && strcmp(argv[1], "--pdeathsig") == 0)
        return pdeathsig_exec(argc, argv, envp);
    char *end = NULL;
    unsigned char head[8];
    if (argc < 4)
        return 127;
    errno = 0;
    long fd = strtol(argv[1], &end, 10);
    if (errno || *end || fd < 3 || fd > 65535)
        return 127;
    ctl = (int)fd;
    if (fcntl(ctl, F_SETFD, FD_CLOEXEC) != 0)
        return 127;
    if (read_all(head, 8) != 0 || memcmp(head, "HKX1", 4) != 0)
        _exit(127);
    uint32_t total = get32(head + 4);
    if (total > SCRIPT_MAX || read_all(script, total) != 0)
        _exit(127);
    uint32_t pos = 0, index = 0;
    while (pos < total) {
        if (total - pos < 8)
            fail(index, EINVAL);
        uint32_t op = get32(script + pos), size = get32(script + pos + 4);
        pos += 8;
        if (size > total - pos)
            fail(index, EINVAL);
        int err = step(index, op, script + pos, size);
        if (err)
            fail(index, err);
        pos += size;
        index++;
    }
    execve(argv[2], argv + 3, envp);
    int32_t err = errno;
    frame(3, &err, 4);
    _exit(127);
}
