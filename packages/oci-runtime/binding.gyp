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
      "cflags": ["-Wall", "-O2"]
    }
  ]
}
