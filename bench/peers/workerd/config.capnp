# workerd peer: one Worker serving the HTTP workloads. The bench overrides the socket's address with
# `--socket-addr http=127.0.0.1:<port>`; the one below is only a default.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "bench", worker = .benchWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "bench") ],
);

const benchWorker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-23",
);
