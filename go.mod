module github.com/guardd/guardd

go 1.26

require (
	github.com/robfig/cron/v3 v3.0.1
	github.com/sethvargo/go-envconfig v1.4.3
	github.com/shopspring/decimal v1.6.0
	github.com/slack-go/slack v0.35.0
	go.uber.org/zap v1.28.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	go.uber.org/multierr v1.10.0 // indirect
)
