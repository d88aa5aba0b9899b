package hub

import (
	"github.com/nats-io/jwt/v2"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// operator is a decentralized-auth chain made for one hub: an operator
// signing a system account and one account, which signs two users (one
// for leafgate's .creds file, one for the test's hub clients). The
// accounts live in a memory resolver, so nothing needs a resolver
// service.
type operator struct {
	claims                *jwt.OperatorClaims
	sysPub, sysJWT        string
	accountPub, accJWT    string
	leafCreds             []byte
	clientJWT, clientSeed string
}

func newOperator(jetStream bool) (*operator, error) {
	okp, err := nkeys.CreateOperator()
	if err != nil {
		return nil, err
	}
	opub, _ := okp.PublicKey()
	op := &operator{claims: jwt.NewOperatorClaims(opub)}
	op.claims.Name = "hub-operator"

	account := func(name string, js bool) (nkeys.KeyPair, string, string, error) {
		akp, err := nkeys.CreateAccount()
		if err != nil {
			return nil, "", "", err
		}
		apub, _ := akp.PublicKey()
		ac := jwt.NewAccountClaims(apub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		ajwt, err := ac.Encode(okp)
		return akp, apub, ajwt, err
	}
	if _, op.sysPub, op.sysJWT, err = account("SYS", false); err != nil {
		return nil, err
	}
	op.claims.SystemAccount = op.sysPub
	akp, apub, ajwt, err := account("EDGES", jetStream)
	if err != nil {
		return nil, err
	}
	op.accountPub, op.accJWT = apub, ajwt

	user := func(name string) (string, []byte, error) {
		ukp, err := nkeys.CreateUser()
		if err != nil {
			return "", nil, err
		}
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		ujwt, err := uc.Encode(akp)
		if err != nil {
			return "", nil, err
		}
		seed, err := ukp.Seed()
		return ujwt, seed, err
	}
	ljwt, lseed, err := user("leafgate")
	if err != nil {
		return nil, err
	}
	if op.leafCreds, err = jwt.FormatUserConfig(ljwt, lseed); err != nil {
		return nil, err
	}
	cjwt, cseed, err := user("hub-client")
	if err != nil {
		return nil, err
	}
	op.clientJWT, op.clientSeed = cjwt, string(cseed)
	return op, nil
}

// configure puts the hub in operator mode with a memory resolver holding
// both accounts.
func (op *operator) configure(so *natsserver.Options) {
	r := &natsserver.MemAccResolver{}
	_ = r.Store(op.sysPub, op.sysJWT)
	_ = r.Store(op.accountPub, op.accJWT)
	so.TrustedOperators = []*jwt.OperatorClaims{op.claims}
	so.AccountResolver = r
	so.SystemAccount = op.sysPub
}
