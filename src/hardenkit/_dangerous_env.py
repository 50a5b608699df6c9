"""The dangerous-environment table: what each runtime and common tool reads, and why.

Every entry is a variable name (or a ``PREFIX*`` or ``*SUFFIX`` pattern) that makes a
program load or run other code, trust another peer or certificate, read another
configuration, or write where it should not. Each group names the documentation it was
taken from; each entry says what the variable does. :data:`hardenkit.env.DANGEROUS_ENV`
is built from this table, and tests/data/dangerous-env.json (sudo's and glibc's lists)
stays covered by it. Names compare case-insensitively (``http_proxy`` and ``HTTP_PROXY``).

Plain data, imported by :mod:`hardenkit.env` (no imports).
"""

from __future__ import annotations

_SUDO = (
    "IFS CDPATH LOCALDOMAIN RES_OPTIONS HOSTALIASES NLSPATH PATH_LOCALE LD_* "
    "_RLD* TERMINFO TERMINFO_DIRS TERMPATH TERMCAP ENV BASH_ENV PS4 GLOBIGNORE "
    "BASHOPTS SHELLOPTS JAVA_TOOL_OPTIONS _JAVA_OPTIONS CLASSPATH PERLIO_DEBUG "
    "PERLLIB PERL5LIB PERL5OPT PERL5DB FPATH NULLCMD READNULLCMD ZDOTDIR "
    "TMPPREFIX PYTHONHOME PYTHONPATH PYTHONINSPECT PYTHONUSERBASE PYTHONSTARTUP "
    "RUBYLIB RUBYOPT NODE_OPTIONS NODE_PATH GIT_SSH_COMMAND GIT_CONFIG_* "
    "GCONV_PATH DYLD_* LDR_* LIBPATH SHLIB_PATH KRB5_CONFIG* KRB5_KTNAME"
)
_GLIBC = (
    "GCONV_PATH GETCONF_DIR GLIBC_TUNABLES HOSTALIASES LD_AUDIT LD_BIND_NOT "
    "LD_BIND_NOW LD_DEBUG LD_DEBUG_OUTPUT LD_DYNAMIC_WEAK LD_LIBRARY_PATH "
    "LD_ORIGIN_PATH LD_PRELOAD LD_PROFILE LD_PROFILE_OUTPUT LD_SHOW_AUXV "
    "LD_VERBOSE LD_WARN LOCALDOMAIN LOCPATH MALLOC_ARENA_MAX MALLOC_ARENA_TEST "
    "MALLOC_MMAP_MAX_ MALLOC_MMAP_THRESHOLD_ MALLOC_PERTURB_ MALLOC_TOP_PAD_ "
    "MALLOC_TRACE MALLOC_TRIM_THRESHOLD_ NIS_PATH NLSPATH RESOLV_HOST_CONF "
    "RES_OPTIONS TMPDIR TZDIR"
)

#: (group, source, ((name, what it does), ...)).
TABLE: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "sudo",
        "sudo plugins/sudoers/env.c, initial_badenv_table (removed even with env_keep)",
        tuple((n, "removed by sudo's env_reset for every command") for n in _SUDO.split()),
    ),
    (
        "glibc",
        (
            "glibc sysdeps/generic/unsecvars.h (removed for setuid programs), ld.so(8), "
            "tunables (GLIBC_TUNABLES), locale(7), gconv; jemalloc(3) (MALLOC_CONF)"
        ),
        (
            *(
                (n, "glibc drops it for setuid programs: loading, locale, malloc")
                for n in _GLIBC.split()
            ),
            ("MALLOC_CHECK_", "glibc malloc debugging (mcheck) behaviour"),
            ("MALLOC_CONF", "jemalloc options (prof_prefix writes profiles to a named path)"),
        ),
    ),
    (
        "git",
        "git(1) ENVIRONMENT VARIABLES, git-config(1), git-var(1) (GIT_EDITOR, GIT_PAGER)",
        (
            ("GIT_EDITOR", "a shell command git runs to edit messages"),
            ("GIT_SEQUENCE_EDITOR", "a shell command git rebase -i runs"),
            ("GIT_PAGER", "a shell command git pipes its output through"),
            ("GIT_SSH", "the program git runs to reach ssh remotes"),
            ("GIT_SSH*", "GIT_SSH_COMMAND (a shell command), GIT_SSH_VARIANT"),
            ("GIT_ASKPASS", "a program git runs for credentials"),
            ("GIT_EXEC_PATH", "where git finds its sub-programs (git-* run from there)"),
            ("GIT_EXTERNAL_DIFF", "a program git diff runs"),
            ("GIT_PROXY_COMMAND", "a command git runs to connect git:// remotes"),
            ("GIT_PROXY_SSL_*", "client certificate and CA for an HTTPS proxy"),
            ("GIT_SSL_*", "GIT_SSL_NO_VERIFY turns off TLS verification; CAINFO/CAPATH/CERT"),
            ("GIT_CONFIG", "a config file git reads (core.fsmonitor, aliases run commands)"),
            ("GIT_CONFIG_*", "GLOBAL/SYSTEM files, COUNT/KEY_n/VALUE_n set any config key"),
            ("GIT_CONFIG_PARAMETERS", "config keys as `git -c` would set them"),
            ("GIT_DIR", "the repository git acts on (its hooks and config run)"),
            ("GIT_WORK_TREE", "the work tree git reads and writes"),
            ("GIT_COMMON_DIR", "the repository's common directory (hooks, config)"),
            ("GIT_TEMPLATE_DIR", "templates (hooks included) copied into new repositories"),
            ("GIT_OBJECT_DIRECTORY", "where objects are read from and written to"),
            ("GIT_ALTERNATE_OBJECT_DIRECTORIES", "extra object stores trusted as local"),
            ("GIT_INDEX_FILE", "the index file git reads and writes"),
            ("GIT_ALLOW_PROTOCOL", "allows transports such as ext:: (runs a command)"),
            ("GIT_PROTOCOL_FROM_USER", "lets user-named URLs pick restricted transports"),
            ("GIT_TRACE*", "writes traces (headers and credentials too) to a named file"),
            ("GIT_CURL_VERBOSE", "logs HTTP headers, credentials included"),
            ("GIT_DISCOVERY_ACROSS_FILESYSTEM", "finds repositories above mount points"),
            ("GIT_CEILING_DIRECTORIES", "changes which parent repository git picks up"),
            ("GIT_ATTR_SOURCE", "the tree attributes (filters run commands) come from"),
            ("GIT_TEST_*", "test hooks: GIT_TEST_FSMONITOR runs a program as fsmonitor hook"),
        ),
    ),
    (
        "curl, wget, proxies",
        (
            "curl(1) ENVIRONMENT and FILES (.curlrc in CURL_HOME), wget(1) FILES and "
            "ENVIRONMENT, libcurl CURLOPT_PROXY (any <scheme>_proxy)"
        ),
        (
            ("CURL_HOME", "where curl reads .curlrc (any option: -o, -K, --proxy)"),
            ("CURL_CA_BUNDLE", "the CA bundle curl trusts"),
            ("CURL_SSL_BACKEND", "the TLS library curl uses"),
            ("WGETRC", "wget's configuration file (any command, e.g. output, proxies)"),
            ("SYSTEM_WGETRC", "wget's system configuration file"),
            ("http_proxy", "routes HTTP through another host"),
            ("HTTP_PROXY", "routes HTTP through another host"),
            ("https_proxy", "routes HTTPS through another host"),
            ("HTTPS_PROXY", "routes HTTPS through another host"),
            ("ALL_PROXY", "routes every protocol through another host"),
            ("all_proxy", "routes every protocol through another host"),
            ("FTP_PROXY", "routes FTP through another host"),
            ("WS_PROXY", "routes WebSocket through another host"),
            ("WSS_PROXY", "routes secure WebSocket through another host"),
            ("SOCKS_PROXY", "routes connections through a SOCKS host"),
            ("RSYNC_PROXY", "routes rsync through another host"),
            ("NO_PROXY", "hosts that bypass the proxy (egress control sidestepped)"),
            ("*_PROXY", "any <scheme>_proxy in any case (libcurl: dict_proxy, ftps_proxy...)"),
            ("NETRC", "the .netrc file requests and curl send credentials from"),
        ),
    ),
    (
        "ssh, rsync, vcs",
        "ssh(1) ENVIRONMENT, ssh-agent(1), rsync(1) ENVIRONMENT, cvs(1), svn, hg(1)",
        (
            ("SSH_ASKPASS", "a program ssh runs for passphrases"),
            ("SSH_ASKPASS_REQUIRE", "makes ssh run SSH_ASKPASS even with a terminal"),
            ("SSH_AUTH_SOCK", "the agent whose keys ssh uses"),
            ("SSH_SK_PROVIDER", "a shared library ssh loads for security keys"),
            ("SSH_SK_HELPER", "the helper program ssh runs for security keys"),
            ("RSYNC_RSH", "the remote shell command rsync runs"),
            ("RSYNC_CONNECT_PROG", "a command rsync runs to connect to a daemon"),
            ("CVS_RSH", "the remote shell command cvs runs"),
            ("SVN_SSH", "the ssh command svn runs"),
            ("SVN_EDITOR", "a command svn runs to edit messages"),
            ("HGRCPATH", "the configuration files hg reads (hooks, extensions run code)"),
            ("HGEDITOR", "a command hg runs to edit messages"),
            ("SUDO_ASKPASS", "a program sudo -A runs for the password"),
        ),
    ),
    (
        "openssl, TLS trust",
        (
            "openssl-env(7) (OPENSSL_CONF, OPENSSL_ENGINES, OPENSSL_MODULES, SSL_CERT_*), "
            "NSS and curl/Python ssl SSLKEYLOGFILE, gnutls-cli(1), requests docs, gRPC "
            "core environment variables, Deno environment variables (DENO_CERT)"
        ),
        (
            ("OPENSSL_CONF", "OpenSSL's config (loads engines and providers: code)"),
            ("OPENSSL_CONF_INCLUDE", "where OpenSSL config includes are read"),
            ("OPENSSL_ENGINES", "where OpenSSL loads engine libraries from"),
            ("OPENSSL_MODULES", "where OpenSSL loads provider libraries from"),
            ("SSL_CERT_FILE", "the CA file trusted by OpenSSL and Python"),
            ("SSL_CERT_DIR", "the CA directory trusted by OpenSSL and Python"),
            ("SSLKEYLOGFILE", "writes TLS session keys to a file (traffic decryptable)"),
            ("GNUTLS_SYSTEM_PRIORITY_FILE", "GnuTLS's allowed ciphers and protocols"),
            ("REQUESTS_CA_BUNDLE", "the CA bundle Python requests trusts"),
            ("PYTHONHTTPSVERIFY", "0 turns off HTTPS verification (PEP 493 builds)"),
            ("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "the CA roots gRPC clients trust"),
            ("DENO_CERT", "a CA certificate Deno trusts"),
            ("HTTPLIB2_CA_CERTS", "the CA bundle httplib2 (Google API clients) trusts"),
            ("WEBSOCKET_CLIENT_CA_BUNDLE", "the CA bundle websocket-client trusts"),
            ("CTLOG_FILE", "the Certificate Transparency log list OpenSSL trusts"),
            ("NODE_USE_SYSTEM_CA", "Node trusts the system store (another CA set)"),
        ),
    ),
    (
        "python",
        (
            "python(1) and the Python docs, Command line and environment; pip's "
            "configuration (every PIP_<OPTION>); uv's environment variables (indexes)"
        ),
        (
            ("PYTHONBREAKPOINT", "a callable imported and run by breakpoint()"),
            ("PYTHONWARNINGS", "warning filters (import of a named category)"),
            ("PYTHONPYCACHEPREFIX", "where bytecode is written and read"),
            ("PYTHONOPTIMIZE", "strips assert statements (checks vanish)"),
            ("PYTHONPLATLIBDIR", "where the standard library is searched"),
            ("PYTHONEXECUTABLE", "the interpreter path Python reports (macOS)"),
            ("PYTHONMALLOC", "the memory allocator (debug hooks)"),
            ("PYTHONHASHSEED", "a fixed hash seed (hash flooding)"),
            ("PYTHONCASEOK", "case-insensitive imports"),
            ("PYTHON_HISTORY", "the file the REPL writes history to (3.13)"),
            ("PYTHONPERFSUPPORT", "writes perf maps to /tmp/perf-<pid>.map (3.12)"),
            ("PYTHONTZPATH", "where zoneinfo reads time zone files (planted zones)"),
            ("PIP_*", "pip options: PIP_INDEX_URL installs from another index"),
            ("UV_INDEX_URL", "the index uv installs packages from"),
            ("UV_EXTRA_INDEX_URL", "extra indexes uv installs packages from"),
            ("UV_INDEX", "extra indexes uv installs packages from"),
            ("UV_DEFAULT_INDEX", "the index uv installs packages from"),
            ("UV_CONFIG_FILE", "the uv.toml uv reads (indexes, build settings)"),
            ("UV_PYTHON_INSTALL_MIRROR", "where uv downloads the Python it runs"),
            ("UV_INSECURE_HOST", "hosts uv fetches from without TLS verification"),
            ("UV_PYTHON", "the Python uv runs"),
            ("UV_FIND_LINKS", "where uv finds packages to install"),
            ("VIRTUAL_ENV", "the environment uv and tools install into and run from"),
            ("PYTEST_ADDOPTS", "pytest options (--rootdir, -p plugins: a conftest.py runs)"),
            ("PYTEST_PLUGINS", "modules pytest imports as plugins"),
            ("IPYTHONDIR", "IPython's profile (startup scripts run)"),
            ("JUPYTER_CONFIG_DIR", "Jupyter's configuration (Python files run)"),
        ),
    ),
    (
        "node, npm",
        (
            "Node.js docs, Command-line API, Environment variables; npm-config(7) "
            "(npm_config_* sets any option, script-shell included); Electron environment "
            "variables"
        ),
        (
            ("NODE_EXTRA_CA_CERTS", "extra CAs Node trusts"),
            ("NODE_TLS_REJECT_UNAUTHORIZED", "0 turns off TLS verification"),
            ("NODE_REPL_EXTERNAL_MODULE", "a module loaded instead of the REPL"),
            ("NODE_ICU_DATA", "ICU data loaded from a path"),
            ("NODE_REDIRECT_WARNINGS", "writes warnings to a named file"),
            ("NODE_V8_COVERAGE", "writes coverage to a named directory"),
            ("NODE_REPL_HISTORY", "the file the REPL writes history to"),
            ("NPM_CONFIG_*", "any npm option (registry, script-shell, ignore-scripts)"),
            ("ELECTRON_RUN_AS_NODE", "an Electron app runs as plain Node (runs any script)"),
            ("COREPACK_NPM_REGISTRY", "where corepack downloads the package manager it runs"),
            ("COREPACK_HOME", "where corepack keeps the package managers it runs"),
            ("YARN_*", "any yarn setting (registry, yarnPath runs a script, plugins)"),
            ("BUN_CONFIG_REGISTRY", "the registry bun installs packages from"),
            ("PYTHON", "the Python node-gyp runs for native builds"),
        ),
    ),
    (
        "java, jvm launchers",
        (
            "JDK tools docs, java (JDK_JAVA_OPTIONS, JAVA_TOOL_OPTIONS); launcher scripts "
            "of Maven, Gradle, Tomcat (JAVA_HOME/bin/java, *_OPTS)"
        ),
        (
            ("JDK_JAVA_OPTIONS", "options the java launcher prepends (-javaagent)"),
            ("JAVA_OPTS", "JVM options launcher scripts pass (-javaagent)"),
            ("MAVEN_OPTS", "JVM options mvn passes"),
            ("GRADLE_OPTS", "JVM options gradle passes"),
            ("JAVA_HOME", "which java launcher scripts run"),
        ),
    ),
    (
        "ruby, perl, lua, php, tcl, r",
        (
            "ruby(1) ENVIRONMENT, perlrun(1) ENVIRONMENT, lua(1), PHP ini docs, tclsh(1), "
            "R Startup docs"
        ),
        (
            ("RUBYPATH", "where ruby -S searches scripts"),
            ("RUBYSHELL", "the shell ruby runs commands with"),
            ("GEM_HOME", "where gems are loaded from"),
            ("GEM_PATH", "where gems are loaded from"),
            ("BUNDLE_GEMFILE", "the Gemfile bundler loads (Ruby code)"),
            ("PERLDB_OPTS", "perl debugger options"),
            ("PERL_HASH_SEED", "a fixed hash seed (hash flooding)"),
            ("LUA_INIT", "Lua code (or @file) run at start"),
            ("LUA_PATH", "where Lua modules are loaded from"),
            ("LUA_CPATH", "where Lua C modules are loaded from"),
            ("PHPRC", "the php.ini PHP reads (auto_prepend_file runs code)"),
            ("PHP_INI_SCAN_DIR", "extra php.ini files"),
            ("TCLLIBPATH", "where Tcl packages are loaded from"),
            ("R_PROFILE", "R code run at start"),
            ("R_LIBS", "where R packages are loaded from"),
        ),
    ),
    (
        "dotnet",
        (
            ".NET runtime docs, Environment variables (DOTNET_STARTUP_HOOKS, additional "
            "deps, profiling API: CORECLR_*/COR_*)"
        ),
        (
            ("DOTNET_STARTUP_HOOKS", "assemblies whose hook runs before Main"),
            ("DOTNET_ADDITIONAL_DEPS", "extra dependency files (assemblies loaded)"),
            ("DOTNET_SHARED_STORE", "where shared assemblies are loaded from"),
            ("DOTNET_ROOT", "which .NET runtime runs"),
            ("CORECLR_*", "CORECLR_PROFILER_PATH loads a profiler library"),
            ("COR_*", "COR_PROFILER_PATH loads a profiler library (.NET Framework)"),
            ("COMPLUS_*", "runtime knobs, debugging and profiling included"),
        ),
    ),
    (
        "go, rust",
        (
            "go help environment (GOFLAGS -toolexec, GOPROXY, GOTOOLCHAIN), cargo "
            "Environment variables (RUSTC_WRAPPER, CARGO_TARGET_<triple>_RUNNER)"
        ),
        (
            ("GOFLAGS", "go command flags (-toolexec runs a program)"),
            ("GOENV", "the go environment file read for every setting"),
            ("GOPROXY", "where modules are downloaded from"),
            ("GOSUMDB", "the checksum database trusted"),
            ("GONOSUMDB", "modules not checked against the checksum database"),
            ("GONOSUMCHECK", "turns checksum checks off"),
            ("GOINSECURE", "modules fetched without TLS verification"),
            ("GOPRIVATE", "modules fetched directly, unchecked"),
            ("GONOPROXY", "modules fetched directly"),
            ("GOTOOLCHAIN", "downloads and runs another toolchain"),
            ("GODEBUG", "runtime and TLS/x509 behaviour switches"),
            ("RUSTC_WRAPPER", "a program cargo runs instead of rustc"),
            ("RUSTC", "the compiler cargo runs"),
            ("RUSTFLAGS", "compiler flags (-C linker= runs a program)"),
            ("CARGO_HOME", "cargo's configuration and registry cache"),
            ("CARGO_BUILD_*", "build settings (rustc, wrappers)"),
            ("CARGO_HTTP_*", "cargo's HTTP settings: CAINFO (the CA trusted), PROXY"),
            ("CARGO_TARGET_*", "per-target linker and runner programs"),
            ("CARGO_REGISTRIES_*", "registries cargo downloads from"),
        ),
    ),
    (
        "shells",
        (
            "bash(1) (ENV, BASH_ENV, PROMPT_COMMAND, PS0-PS4, BASH_XTRACEFD, HISTFILE, "
            "exported functions), zsh(1) (ZDOTDIR, FPATH), dash(1) (ENV)"
        ),
        (
            ("BASH_FUNC_*", "exported bash functions (run as code)"),
            ("PROMPT_COMMAND", "a command an interactive bash runs at each prompt"),
            ("PS0", "expanded ($(cmd) runs) by interactive bash"),
            ("PS1", "expanded ($(cmd) runs) by interactive shells"),
            ("PS2", "expanded ($(cmd) runs) by interactive shells"),
            ("PS3", "expanded by select"),
            ("BASH_XTRACEFD", "the descriptor xtrace output goes to"),
            ("HISTFILE", "the file an interactive shell writes history to"),
            ("INPUTRC", "readline's key bindings and macros"),
            ("BASH_LOADABLES_PATH", "where bash's enable -f loads builtins (shared libraries)"),
            ("FCEDIT", "the editor fc runs (a command)"),
            ("MAILPATH", "mail files bash checks; $(cmd) in a message runs"),
        ),
    ),
    (
        "pagers, editors, viewers",
        (
            "less(1) ENVIRONMENT (LESS, LESSOPEN, LESSEDIT, LESSKEY*), man(1) (MANPAGER, "
            "MANOPT, BROWSER), vim (VIMINIT, EXINIT, VIMRUNTIME), sudoedit(8), more(1)"
        ),
        (
            ("EDITOR", "a command programs run to edit"),
            ("VISUAL", "a command programs run to edit"),
            ("SUDO_EDITOR", "the editor sudoedit runs"),
            ("PAGER", "a command programs pipe output through"),
            ("MANPAGER", "a command man pipes pages through"),
            ("MANOPT", "options man parses (-P pager, -H browser)"),
            ("MANROFFOPT", "options passed to the roff formatter"),
            ("GROFF_BIN_PATH", "where groff finds troff and grotty to run (man)"),
            ("GROFF_FONT_PATH", "groff's device files (postpro names a program it runs)"),
            ("GROFF_TMAC_PATH", "groff's macro files (.pso runs a command in unsafe mode)"),
            ("TEXTDOMAINDIR", 'where bash reads translations of $"..." strings'),
            ("MAILRC", "mailx's startup file (commands, ! runs a shell)"),
            ("MAN_DISABLE_SECCOMP", "man runs its formatters without the seccomp filter"),
            ("BROWSER", "a command man -H and xdg-open run"),
            ("LESS", "less options (+cmd runs less commands, ! runs a shell)"),
            ("LESSOPEN", "an input preprocessor command less runs"),
            ("LESSCLOSE", "a postprocessor command less runs"),
            ("LESSEDIT", "the editor command less runs on v"),
            ("LESSKEY*", "lesskey files (key bindings to shell commands)"),
            ("LESSKEYIN*", "lesskey source files"),
            ("LESSGLOBALTAGS", "the global(1) command less runs for tags"),
            ("MORE", "more options"),
            ("VIMINIT", "ex commands vim runs at start (:! runs a shell)"),
            ("EXINIT", "ex commands vi/ex run at start"),
            ("GVIMINIT", "ex commands gvim runs at start"),
            ("VIMRUNTIME", "where vim loads its runtime scripts"),
            ("VIM", "where vim looks for its files"),
            ("NVIM_APPNAME", "the directory nvim reads its init.lua from"),
            ("MYVIMRC", "the vimrc vim reports and reloads"),
            ("EMACSLOADPATH", "where emacs loads Lisp from"),
        ),
    ),
    (
        "build tools and archivers",
        (
            "GNU make manual (MAKEFLAGS, MAKEFILES; Implicit Variables: CC, CFLAGS...), "
            "gcc(1) -wrapper, setuptools (CC, LDSHARED), autoconf manual, Site Defaults "
            "(CONFIG_SITE), GNU tar (TAR_OPTIONS: --to-command, --checkpoint-action=exec), "
            "gzip(1), xz(1), bzip2(1)"
        ),
        (
            ("MAKEFLAGS", "make options (--eval runs make code, $(shell))"),
            ("GNUMAKEFLAGS", "GNU make options"),
            ("MFLAGS", "make options"),
            ("MAKEFILES", "makefiles make reads first"),
            ("CONFIG_SITE", "a shell script every configure sources"),
            ("TAR_OPTIONS", "tar options (--to-command, checkpoint actions run commands)"),
            ("GZIP", "gzip options"),
            ("XZ_OPT", "xz options"),
            ("XZ_DEFAULTS", "xz default options"),
            ("BZIP", "bzip2 options"),
            ("BZIP2", "bzip2 options"),
            ("PKG_CONFIG_PATH", "where .pc files (compiler and linker flags) come from"),
            ("CC", "the C compiler make's rules, configure and setuptools run"),
            ("CXX", "the C++ compiler make's rules and setuptools run"),
            ("CPP", "the preprocessor make's rules and configure run"),
            ("LD", "the linker build scripts run"),
            ("AS", "the assembler make's rules run"),
            ("AR", "the archiver make's rules and setuptools run"),
            ("LDSHARED", "the command setuptools links extensions with"),
            ("CFLAGS", "C compiler flags (-wrapper runs a program)"),
            ("CXXFLAGS", "C++ compiler flags (-wrapper runs a program)"),
            ("CPPFLAGS", "preprocessor flags (-wrapper runs a program)"),
            ("LDFLAGS", "linker flags given to the compiler driver (-wrapper)"),
            ("LDLIBS", "libraries given to the compiler driver by make (-wrapper)"),
            ("LOADLIBES", "libraries given to the compiler driver by make (-wrapper)"),
            ("TARGET_ARCH", "given to the compiler driver by make's rules (-wrapper)"),
            ("MAKE", "the make a makefile's $(MAKE) runs"),
            ("RM", "the command make's clean rules run"),
            ("LEX", "the lexer make's rules run"),
            ("YACC", "the parser generator make's rules run"),
            ("FC", "the Fortran compiler make's rules run"),
            ("M4", "the m4 autoconf and make's rules run"),
            ("CPATH", "where gcc finds headers first (planted headers)"),
            ("C_INCLUDE_PATH", "where gcc finds C headers first (planted headers)"),
            ("CPLUS_INCLUDE_PATH", "where g++ finds headers first (planted headers)"),
            ("LIBRARY_PATH", "where gcc's linker finds libraries first"),
            ("DEPENDENCIES_OUTPUT", "a file gcc overwrites with dependency rules"),
            ("SUNPRO_DEPENDENCIES", "a file gcc overwrites with dependency rules"),
            ("CGO_*", "cgo's compiler and flags (CGO_CFLAGS: -wrapper)"),
            ("GOROOT", "the Go toolchain go runs"),
            ("GOWORK", "the go.work that picks the modules go builds"),
            ("RUSTC_WORKSPACE_WRAPPER", "a program cargo runs rustc through"),
            ("RUSTUP_TOOLCHAIN", "the toolchain rustup runs"),
            ("GRADLE_USER_HOME", "gradle's init scripts (run as code)"),
        ),
    ),
    (
        "systemd, dbus, session",
        (
            "systemd docs, ENVIRONMENT.md (SYSTEMD_PAGER, SYSTEMD_PAGERSECURE, "
            "SYSTEMD_EDITOR, SYSTEMD_LOG_*...), sd_notify(3), sd_listen_fds(3), dbus docs, "
            "XDG Base Directory specification, sd-bus (XDG_RUNTIME_DIR/bus)"
        ),
        (
            ("SYSTEMD_*", "systemctl/journalctl knobs: pager, editor, secure-pager off"),
            ("NOTIFY_SOCKET", "where sd_notify sends READY/MAINPID (the service manager)"),
            ("LISTEN_FDS", "descriptors a program takes as its listening sockets"),
            ("LISTEN_PID", "which process takes the passed sockets"),
            ("LISTEN_FDNAMES", "names of the passed sockets"),
            ("DBUS_SESSION_BUS_ADDRESS", "the session bus a program talks to"),
            ("DBUS_SYSTEM_BUS_ADDRESS", "the system bus a program talks to"),
            ("XDG_CONFIG_HOME", "where programs read their configuration"),
            ("XDG_CONFIG_DIRS", "where programs read their configuration"),
            ("XDG_DATA_HOME", "where programs read data (units, schemas, .desktop)"),
            ("XDG_DATA_DIRS", "where programs read data (units, schemas, .desktop)"),
            ("XDG_RUNTIME_DIR", "sockets: sd-bus falls back to $XDG_RUNTIME_DIR/bus"),
        ),
    ),
    (
        "credentials and clients",
        (
            "Kerberos krb5 docs, Environment variables (KRB5CCNAME, KRB5_TRACE); gpg(1) "
            "(GNUPGHOME); docker CLI environment; kubectl (KUBECONFIG); AWS CLI (config "
            "credential_process runs a command)"
        ),
        (
            ("KRB5*", "Kerberos configuration, keytabs, ticket caches, traces"),
            ("GNUPGHOME", "the keyring gpg trusts"),
            ("DOCKER_HOST", "the Docker daemon the CLI controls"),
            ("DOCKER_CONFIG", "the Docker CLI's configuration (credential helpers run)"),
            ("DOCKER_CERT_PATH", "the TLS material the Docker CLI uses"),
            ("DOCKER_TLS_VERIFY", "whether the Docker CLI verifies the daemon"),
            ("KUBECONFIG", "the cluster and credentials kubectl uses (exec plugins run)"),
            ("AWS_CONFIG_FILE", "the AWS config (credential_process runs a command)"),
            ("AWS_SHARED_CREDENTIALS_FILE", "the AWS credentials file"),
            ("AWS_CA_BUNDLE", "the CA bundle the AWS CLI and SDKs trust"),
            ("AWS_PAGER", "a command the AWS CLI pipes its output through"),
            ("AWS_ENDPOINT_URL*", "the endpoint AWS SDKs send requests and credentials to"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "where AWS SDKs fetch credentials from"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "the credentials file Google clients use"),
            ("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "lets Google credentials run a command"),
            ("CONTAINERS_CONF", "podman/buildah's configuration (helpers, hooks run)"),
            ("CONTAINERS_REGISTRIES_CONF", "the registries podman pulls images from"),
            ("CONTAINER_HOST", "the podman service the CLI controls"),
            ("DOCKER_CONTEXT", "the Docker endpoint the CLI controls"),
            ("COMPOSE_FILE", "the compose file docker compose runs"),
            ("VAULT_ADDR", "the Vault server clients send tokens to"),
            ("VAULT_SKIP_VERIFY", "Vault clients skip TLS verification"),
            ("PGSSLROOTCERT", "the CA libpq trusts"),
            ("PGSSLMODE", "libpq's TLS mode (disable: no TLS)"),
            ("LDAPTLS_REQCERT", "whether LDAP clients check the server's certificate"),
            ("NIX_SSL_CERT_FILE", "the CA bundle nix trusts"),
            ("SASL_PATH", "where Cyrus SASL loads its plugins (libraries)"),
            ("GSS_MECH_CONFIG", "GSSAPI mechanisms to load (libraries)"),
            ("GIO_EXTRA_MODULES", "GIO modules GLib programs load (libraries)"),
            ("GTK_MODULES", "modules GTK programs load (libraries)"),
            ("QT_PLUGIN_PATH", "where Qt programs load plugins (libraries)"),
            ("XAUTHORITY", "the X cookie file: which display a program trusts"),
        ),
    ),
    (
        "database clients and compilers",
        (
            "psql(1) ENVIRONMENT and FILES (PSQLRC; \\! runs a shell command); mysql "
            "option files (MYSQL_HOME); gcc(1) ENVIRONMENT (GCC_EXEC_PREFIX, COMPILER_PATH: "
            "where the driver finds cc1, as, collect2 to run)"
        ),
        (
            ("PSQLRC", "psql's startup file (\\! runs any shell command)"),
            ("PSQL_EDITOR", "a command psql's \\e runs to edit"),
            ("PSQL_PAGER", "a command psql pipes its output through"),
            ("MYSQL_HOME", "where mysql clients read my.cnf (options, pager, init commands)"),
            ("GCC_EXEC_PREFIX", "where gcc finds the programs it runs (cc1, as, collect2)"),
            ("COMPILER_PATH", "directories gcc searches for the programs it runs"),
        ),
    ),
)

#: Names that are safe to inherit from the trusted parent (:data:`hardenkit.env.DEFAULT_ALLOW`
#: copies HOME) but change which code runs when an untrusted source, such as a .env file
#: given to ``hardenkit env run``, sets them. (name, what it does).
FROM_UNTRUSTED: tuple[tuple[str, str], ...] = (
    (
        "HOME",
        (
            "where programs read dotfiles: ~/.gitconfig (core.fsmonitor runs), "
            "usercustomize.py, .bashrc, .npmrc, .curlrc"
        ),
    ),
    ("SHELL", "the shell programs run commands with (make, vim :!, ssh)"),
    ("USER", "who getpass.getuser() and many tools say the user is"),
    ("LOGNAME", "who getpass.getuser() and many tools say the user is"),
)
