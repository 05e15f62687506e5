// VitrineModels: safetensors, Hugging Face configs, tokenizers, CLIP towers, model hub.
