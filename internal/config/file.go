package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// The file schema. Every leaf is a scalar holding the text exactly as written,
// so amounts never pass through float64, a missing key is told apart from an
// empty one, and errors quote the user's own text. Sections the user must
// write (auto_recharge, source) are pointers so that their absence shows.

type fileConfig struct {
	Schedule  scalar         `yaml:"schedule"`
	Log       fileLog        `yaml:"log"`
	Rules     fileRules      `yaml:"rules"`
	Accounts  []fileAccount  `yaml:"accounts"`
	Notifiers []fileNotifier `yaml:"notifiers"`
	State     fileState      `yaml:"state"`
	HTTP      fileHTTP       `yaml:"http"`
	Alerting  fileAlerting   `yaml:"alerting"`
}

type fileLog struct {
	Level  scalar `yaml:"level"`
	Format scalar `yaml:"format"`
}

type fileRules struct {
	BurnWindow               scalar                       `yaml:"burn_window"`
	MatchWindow              scalar                       `yaml:"match_window"`
	RechargeBurst            fileRechargeBurst            `yaml:"recharge_burst"`
	RechargeWhileGrantCredit fileRechargeWhileGrantCredit `yaml:"recharge_while_grant_credit"`
	RechargeAboveThreshold   fileRechargeAboveThreshold   `yaml:"recharge_above_threshold"`
	PhantomBalance           filePhantomBalance           `yaml:"phantom_balance"`
	DrawdownOrder            fileDrawdownOrder            `yaml:"drawdown_order"`
	ChargeWithoutCredit      fileChargeWithoutCredit      `yaml:"charge_without_credit"`
	CreditsAccumulating      fileCreditsAccumulating      `yaml:"credits_accumulating"`
	SpendWithoutUsage        fileSpendWithoutUsage        `yaml:"spend_without_usage"`
	GrantExpiringUnused      fileGrantExpiringUnused      `yaml:"grant_expiring_unused"`
	RunwayLow                fileRunwayLow                `yaml:"runway_low"`
	SourceBlind              fileSourceBlind              `yaml:"source_blind"`
}

type fileRechargeBurst struct {
	Count  scalar `yaml:"count"`
	Window scalar `yaml:"window"`
}

type fileRechargeWhileGrantCredit struct {
	MinGrantCredit scalar `yaml:"min_grant_credit"`
	Lookback       scalar `yaml:"lookback"`
}

type fileRechargeAboveThreshold struct {
	Tolerance scalar `yaml:"tolerance"`
	Lookback  scalar `yaml:"lookback"`
}

type filePhantomBalance struct {
	MinDifference scalar `yaml:"min_difference"`
}

type fileAccount struct {
	Name         scalar            `yaml:"name"`
	Provider     scalar            `yaml:"provider"`
	Currency     scalar            `yaml:"currency"`
	Drawdown     scalar            `yaml:"drawdown"`
	AutoRecharge *fileAutoRecharge `yaml:"auto_recharge"`
	MonthlyCap   scalar            `yaml:"monthly_cap"`
	Source       *fileSource       `yaml:"source"`
}

type fileAutoRecharge struct {
	Enabled      scalar `yaml:"enabled"`
	Threshold    scalar `yaml:"threshold"`
	Mode         scalar `yaml:"mode"`
	Amount       scalar `yaml:"amount"`
	Target       scalar `yaml:"target"`
	MonthlyLimit scalar `yaml:"monthly_limit"`
}

type fileSource struct {
	Type              scalar `yaml:"type"`
	Path              scalar `yaml:"path"`
	BaseURL           scalar `yaml:"base_url"`
	AdminKeyEnv       scalar `yaml:"admin_key_env"`
	AdminKeyFile      scalar `yaml:"admin_key_file"`
	SessionKeyEnv     scalar `yaml:"session_key_env"`
	SessionKeyFile    scalar `yaml:"session_key_file"`
	APIKeyEnv         scalar `yaml:"api_key_env"`
	APIKeyFile        scalar `yaml:"api_key_file"`
	ManagementKeyEnv  scalar `yaml:"management_key_env"`
	ManagementKeyFile scalar `yaml:"management_key_file"`
	Timeout           scalar `yaml:"timeout"`
	MaxRequests       scalar `yaml:"max_requests"`
	CostLookback      scalar `yaml:"cost_lookback"`
}

// scalar is one YAML value kept as the text the user wrote. A key that is
// missing or null leaves it unset.
type scalar struct {
	text string
	set  bool
}

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		// A TypeError, not a plain error, so the decoder goes on and reports
		// the file's other problems too. yamlProblems finds the key from the
		// line and column.
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: column %d: got %s, want a single value", n.Line, n.Column, nodeWord(n.Kind, n.ShortTag())),
		}}
	}
	s.text, s.set = n.Value, true
	return nil
}

// nodeWord names a YAML node's kind for people.
func nodeWord(kind yaml.Kind, tag string) string {
	switch kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return tagWord(tag)
}

func tagWord(tag string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	case "!!str":
		return "a string"
	}
	return "a value"
}
