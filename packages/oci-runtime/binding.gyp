{
  "targets": [
    {
      "target_name": "ocikit_runtime",
      "sources": ["native/addon/addon.cc", "native/addon/child.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-stack-protector"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      "target_name": "ocikit-monitor",
      "type": "executable",
      "sources": ["native/monitor/monitor.c"],
      "cflags": ["-Wall", "-O2"],
      "ldflags": ["<!@(sh native/monitor/link-flags.sh)"]
    },
    {
      "target_name": "ocikit-runtime",
      "type": "executable",
      "sources": [
        "native/cli/main.c",
        "native/cli/record.c",
        "native/cli/cgroup-v1.c",
        "native/cli/report.c"
      ],
      "defines": ["OCIKIT_NODE_PATH=\"<!(node -p process.execPath)\""],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
