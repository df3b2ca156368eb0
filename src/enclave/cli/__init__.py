"""The ``enclave`` command line: one module per noun, each thin over the same services as the API."""
