// Package provider is what the provider adapters (openai, anthropic,
// deepseek, openrouter) share beyond HTTP: reading provider JSON with
// numbers kept as their literal text, reading daily cost buckets
// incrementally through a cost window, and building one Fetch's observation
// part by part under the poller.Source contract. The HTTP itself is
// internal/httpx, which receivers share too.
package provider
