package msemulator

// Seeded tenants (Config.Seed). Their ids are fixed so dev mode and tests
// can name them.
const (
	DemoTenantID         = "0b4c7e2a-5d1f-4c3e-9a8b-6f2d1e0c9b7a"
	DemoTenantDomain     = "contoso.test"
	FabrikamTenantID     = "3e9a1c5b-7f2d-4b6e-8c0a-1d5f9e3b7c2d"
	FabrikamTenantDomain = "fabrikam.test" // user consent needs admin approval
	BlockedTenantID      = "6c2f8e4d-1a9b-4d7c-b3e5-9f0a2c6d8e1b"
	BlockedTenantDomain  = "blocked.test" // user consent blocked, no approval workflow
)

// Seeded users of contoso.test.
const (
	// DemoRecruiterUPN is Rita Recruiter, the recruiter of dev mode.
	DemoRecruiterUPN = "rita@contoso.test"
	DemoRecruiterID  = "11111111-1111-4111-8111-111111111111"
	// DemoAdaUPN is Ada Lovelace, whose mail (DemoAdaMail) differs from her
	// UPN, so GET /users/{mail} does not find her but $filter on mail does.
	DemoAdaUPN  = "ada.lovelace@contoso.test"
	DemoAdaMail = "ada@contoso.test"
	DemoAdaID   = "22222222-2222-4222-8222-222222222222"
	// DemoGraceUPN is Grace Hopper, with a secondary address in
	// proxyAddresses (DemoGraceAlias) and one in otherMails (DemoGraceOtherMail).
	DemoGraceUPN       = "grace@contoso.test"
	DemoGraceAlias     = "g.hopper@contoso.test"
	DemoGraceOtherMail = "grace.hopper@navy.test"
	DemoGraceID        = "33333333-3333-4333-8333-333333333333"
	// DemoAlanUPN is Alan Turing, a plain colleague.
	DemoAlanUPN = "alan@contoso.test"
	DemoAlanID  = "44444444-4444-4444-8444-444444444444"
	// DemoDollarUPN starts with $, so Graph needs the /users('…') form for it.
	DemoDollarUPN = "$dan.dollar@contoso.test"
	DemoDollarID  = "55555555-5555-4555-8555-555555555555"
	// DemoGuestUPN is a guest, who cannot list or query /users. Its # must
	// be sent as %23 in a URL path.
	DemoGuestUPN  = "gus_partner.test#EXT#@contoso.test"
	DemoGuestMail = "gus@partner.test"
	DemoGuestID   = "66666666-6666-4666-8666-666666666666"
	// DemoAdminUPN is the tenant administrator, who can grant admin consent.
	DemoAdminUPN = "adele@contoso.test"
	DemoAdminID  = "77777777-7777-4777-8777-777777777777"
	// DemoForbiddenUPN is a colleague to whom every message send returns 403.
	DemoForbiddenUPN = "frank@contoso.test"
	DemoForbiddenID  = "88888888-8888-4888-8888-888888888888"
	// DemoQuoteUPN is Connor O'Brien, whose mail (DemoQuoteMail) contains a
	// quote, for OData literal escaping.
	DemoQuoteUPN  = "connor.obrien@contoso.test"
	DemoQuoteMail = "connor.o'brien@contoso.test"
	DemoQuoteID   = "99999999-9999-4999-8999-999999999999"
)

// Seeded users of the other tenants.
const (
	FabrikamUserUPN  = "fiona@fabrikam.test"
	FabrikamUserID   = "aaaaaaaa-1111-4aaa-8aaa-aaaaaaaaaaaa"
	FabrikamAdminUPN = "felix@fabrikam.test"
	FabrikamAdminID  = "aaaaaaaa-2222-4aaa-8aaa-aaaaaaaaaaaa"
	BlockedUserUPN   = "bob@blocked.test"
	BlockedUserID    = "bbbbbbbb-1111-4bbb-8bbb-bbbbbbbbbbbb"
	BlockedAdminUPN  = "bella@blocked.test"
	BlockedAdminID   = "bbbbbbbb-2222-4bbb-8bbb-bbbbbbbbbbbb"
)

func seedTenants() []Tenant {
	return []Tenant{
		{ID: DemoTenantID, Domain: DemoTenantDomain, DisplayName: "Contoso", UserConsent: UserConsentAllowed},
		{ID: FabrikamTenantID, Domain: FabrikamTenantDomain, DisplayName: "Fabrikam", UserConsent: UserConsentAdminApproval},
		{ID: BlockedTenantID, Domain: BlockedTenantDomain, DisplayName: "Blocked Corp", UserConsent: UserConsentBlocked},
	}
}

func seedUsers() []User {
	demo := func(id, upn, mail, given, surname string) User {
		return User{ID: id, TenantID: DemoTenantID, UserPrincipalName: upn, Mail: mail,
			DisplayName: given + " " + surname, GivenName: given, Surname: surname}
	}
	rita := demo(DemoRecruiterID, DemoRecruiterUPN, DemoRecruiterUPN, "Rita", "Recruiter")
	rita.JobTitle = "Recruiter"
	ada := demo(DemoAdaID, DemoAdaUPN, DemoAdaMail, "Ada", "Lovelace")
	ada.ProxyAddresses = []string{"SMTP:" + DemoAdaMail, "smtp:" + DemoAdaUPN}
	grace := demo(DemoGraceID, DemoGraceUPN, DemoGraceUPN, "Grace", "Hopper")
	grace.ProxyAddresses = []string{"SMTP:" + DemoGraceUPN, "smtp:" + DemoGraceAlias}
	grace.OtherMails = []string{DemoGraceOtherMail}
	guest := demo(DemoGuestID, DemoGuestUPN, DemoGuestMail, "Gus", "Guest")
	guest.Guest = true
	admin := demo(DemoAdminID, DemoAdminUPN, DemoAdminUPN, "Adele", "Admin")
	admin.Admin = true
	frank := demo(DemoForbiddenID, DemoForbiddenUPN, DemoForbiddenUPN, "Frank", "Forbidden")
	frank.Forbidden = true

	return []User{
		rita, ada, grace, guest, admin, frank,
		demo(DemoAlanID, DemoAlanUPN, DemoAlanUPN, "Alan", "Turing"),
		demo(DemoDollarID, DemoDollarUPN, DemoDollarUPN, "Dan", "Dollar"),
		demo(DemoQuoteID, DemoQuoteUPN, DemoQuoteMail, "Connor", "O'Brien"),
		{ID: FabrikamUserID, TenantID: FabrikamTenantID, UserPrincipalName: FabrikamUserUPN, Mail: FabrikamUserUPN, DisplayName: "Fiona Fabrikam", GivenName: "Fiona", Surname: "Fabrikam"},
		{ID: FabrikamAdminID, TenantID: FabrikamTenantID, UserPrincipalName: FabrikamAdminUPN, Mail: FabrikamAdminUPN, DisplayName: "Felix Admin", GivenName: "Felix", Surname: "Admin", Admin: true},
		{ID: BlockedUserID, TenantID: BlockedTenantID, UserPrincipalName: BlockedUserUPN, Mail: BlockedUserUPN, DisplayName: "Bob Blocked", GivenName: "Bob", Surname: "Blocked"},
		{ID: BlockedAdminID, TenantID: BlockedTenantID, UserPrincipalName: BlockedAdminUPN, Mail: BlockedAdminUPN, DisplayName: "Bella Admin", GivenName: "Bella", Surname: "Admin", Admin: true},
	}
}

// seed adds the demo tenants and users to s.
func seed(s *state) {
	for _, t := range seedTenants() {
		s.tenants = append(s.tenants, &t)
	}
	for _, u := range seedUsers() {
		s.users = append(s.users, &u)
	}
}
