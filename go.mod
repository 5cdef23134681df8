module github.com/guardd/guardd

go 1.26

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	github.com/sethvargo/go-envconfig v1.4.3 // indirect
	github.com/shopspring/decimal v1.6.0 // indirect
	github.com/slack-go/slack v0.35.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
