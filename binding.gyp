{
  "targets": [
    {
      "target_name": "virtkit",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/event_loop.cc",
        "native/events.cc",
        "native/connect.cc",
        "native/convert.cc",
        "native/diagnostics.cc",
        "native/handle.cc",
        "native/storage_pool.cc",
        "native/storage_vol.cc",
        "native/domain.cc",
        "native/secret.cc",
        "native/stream.cc",
        "native/worker.cc",
        "native/typed_params.cc",
        "native/domain_snapshot.cc",
        "native/domain_checkpoint.cc",
        "native/iscsi.cc",
        "native/iscsi_engine.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "<!@(node scripts/check-deps.js cflags)"],
      "libraries": ["<!@(node scripts/check-deps.js libs)"],
      "ldflags": ["-Wl,-z,nodelete"],
      "conditions": [
        ["OS!='linux'", { "defines": ["VIRTKIT_UNSUPPORTED_OS"] }]
      ]
    }
  ]
}
