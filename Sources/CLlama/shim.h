#ifndef TELLTALE_CLLAMA_SHIM_H
#define TELLTALE_CLLAMA_SHIM_H
#include <llama.h>
#include <gguf.h>
#endif
