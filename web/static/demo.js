// The Settings → Communication → Microsoft Teams card of the Wintro SPA, as
// a plain script. It uses only what the SPA uses: the public GraphQL API with
// the recruiter's bearer token, and the OAuth callback, which brings the
// browser back here with ?teams=connected or ?teams=error&reason=…
// The server puts the endpoint, the dev recruiter's token and the returnTo
// path in the page's wintro-demo meta tag.
(function () {
  'use strict';

  const config = JSON.parse(document.querySelector('meta[name="wintro-demo"]').content);

  const INTEGRATION_FIELDS = `
    status
    account { email displayName }
    connectedAt
    expiredReason
    expiredMessage
    applicationId
    adminConsentUrl
    requiredPermissions { scope name reason granted }
    notAccessed
    lastConnectError { code message }`;

  const STATUS_LABELS = {
    DISCONNECTED: 'Not connected',
    CONNECTED: 'Connected',
    PENDING_ADMIN_APPROVAL: 'Waiting for admin approval',
    EXPIRED: 'Expired',
  };

  const $ = (id) => document.getElementById(id);
  let recipient = null;

  // GraphQLError is a top-level GraphQL error; code is its extensions.code.
  class GraphQLError extends Error {
    constructor(error) {
      super(error.message);
      this.code = (error.extensions && error.extensions.code) || 'UNKNOWN';
    }
  }

  // graphql posts one operation with the caller token and returns its data,
  // or throws the first GraphQL error. The Accept header is the one the
  // GraphQL over HTTP specification recommends for clients.
  async function graphql(query, variables) {
    const response = await fetch(config.endpoint, {
      method: 'POST',
      // connectTeams sets the cookie that binds the sign-in to this browser.
      credentials: 'include',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json;q=0.9',
        Authorization: 'Bearer ' + config.token,
      },
      body: JSON.stringify({ query, variables }),
    });
    let body;
    try {
      body = await response.json();
    } catch (err) {
      throw new Error(`The API returned status ${response.status} without a GraphQL response.`);
    }
    if (body.errors && body.errors.length > 0) {
      throw new GraphQLError(body.errors[0]);
    }
    return body.data;
  }

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  function showError(err) {
    const text = err instanceof GraphQLError ? `${err.message} (${err.code})` : String(err.message || err);
    $('error').textContent = text;
    show('error', true);
  }

  function clearMessages() {
    show('error', false);
    show('notice', false);
  }

  // render shows the integration as the SPA's card would.
  function render(integration) {
    const status = integration.status;
    $('status').dataset.status = status;
    $('status').textContent = STATUS_LABELS[status] || status;
    $('teams-card').setAttribute('aria-busy', 'false');

    show('account', status === 'CONNECTED' && integration.account !== null);
    if (integration.account) {
      $('account-name').textContent = integration.account.displayName;
      $('account-email').textContent = integration.account.email;
      $('connected-since').textContent = integration.connectedAt
        ? ' since ' + new Date(integration.connectedAt).toLocaleString()
        : '';
    }

    show('expired', status === 'EXPIRED');
    $('expired-message').textContent = integration.expiredMessage || '';

    show('pending', status === 'PENDING_ADMIN_APPROVAL');
    $('application-id').textContent = integration.applicationId;
    const link = $('admin-consent-url');
    link.textContent = integration.adminConsentUrl || 'not available yet';
    link.href = integration.adminConsentUrl || '#';

    show('connect', status !== 'CONNECTED');
    show('disconnect', status !== 'DISCONNECTED');
    show('messaging', status === 'CONNECTED');

    renderPermissions(integration.requiredPermissions, status === 'CONNECTED');
    renderList($('not-accessed'), integration.notAccessed);
  }

  function renderPermissions(permissions, connected) {
    const body = $('permissions').querySelector('tbody');
    body.replaceChildren();
    for (const p of permissions) {
      const row = body.insertRow();
      const name = row.insertCell();
      name.append(p.name, document.createElement('br'));
      const scope = document.createElement('code');
      scope.textContent = p.scope;
      name.append(scope);
      row.insertCell().textContent = p.reason;
      let granted = '–';
      if (connected) {
        granted = p.granted ? 'Yes' : 'No';
      }
      row.insertCell().textContent = granted;
    }
  }

  function renderList(list, items) {
    list.replaceChildren();
    for (const item of items) {
      const li = document.createElement('li');
      li.textContent = item;
      list.append(li);
    }
  }

  async function refresh() {
    const data = await graphql(`query Integration { teamsIntegration { ${INTEGRATION_FIELDS} } }`);
    render(data.teamsIntegration);
    return data.teamsIntegration;
  }

  // connect requests Microsoft's sign-in URL from the API and opens it. The
  // callback brings the browser back to config.returnTo.
  async function connect() {
    clearMessages();
    $('connect').disabled = true;
    try {
      const data = await graphql(
        'mutation Connect($input: ConnectTeamsInput) { connectTeams(input: $input) { authorizationUrl } }',
        { input: { returnTo: config.returnTo } },
      );
      window.location.assign(data.connectTeams.authorizationUrl);
    } catch (err) {
      $('connect').disabled = false;
      showError(err);
    }
  }

  async function disconnect() {
    clearMessages();
    $('disconnect').disabled = true;
    try {
      const data = await graphql(`mutation Disconnect { disconnectTeams { integration { ${INTEGRATION_FIELDS} } } }`);
      render(data.disconnectTeams.integration);
      resetMessaging();
      notice('Microsoft Teams is disconnected. Wintro deleted your stored Microsoft tokens.');
    } catch (err) {
      showError(err);
    } finally {
      $('disconnect').disabled = false;
    }
  }

  async function searchColleagues(event) {
    event.preventDefault();
    clearMessages();
    const list = $('colleagues');
    list.replaceChildren();
    try {
      const data = await graphql(
        'query Search($query: String!) { searchColleagues(query: $query, first: 10) { id displayName email userPrincipalName } }',
        { query: $('colleague-query').value },
      );
      if (data.searchColleagues.length === 0) {
        renderList(list, ['No colleague matches.']);
      }
      for (const colleague of data.searchColleagues) {
        list.append(colleagueItem(colleague));
      }
    } catch (err) {
      showError(err);
    }
  }

  function colleagueItem(colleague) {
    const li = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = `${colleague.displayName} · ${colleague.email || colleague.userPrincipalName}`;
    const choose = document.createElement('button');
    choose.type = 'button';
    choose.textContent = 'Choose';
    choose.setAttribute('aria-label', 'Choose ' + colleague.displayName);
    choose.addEventListener('click', () => {
      for (const other of $('colleagues').children) {
        other.classList.remove('selected');
      }
      li.classList.add('selected');
      recipient = colleague;
      $('recipient').textContent = `${colleague.displayName} (${colleague.email || colleague.userPrincipalName})`;
      $('send').disabled = false;
    });
    li.append(label, choose);
    return li;
  }

  // sendMessage sends the test message with a fresh idempotency key, so a
  // retried request can never post it twice.
  async function sendMessage(event) {
    event.preventDefault();
    if (!recipient) {
      return;
    }
    clearMessages();
    show('send-result', false);
    $('send').disabled = true;
    try {
      const data = await graphql(
        `mutation Send($input: SendTeamsMessageInput!) {
          sendTeamsMessage(input: $input) { message { id chatId createdAt webUrl } recipient { displayName } }
        }`,
        { input: { recipientId: recipient.id, content: $('message').value, format: 'TEXT', idempotencyKey: crypto.randomUUID() } },
      );
      const sent = data.sendTeamsMessage;
      $('send-result').textContent =
        `Message sent to ${sent.recipient.displayName} at ${new Date(sent.message.createdAt).toLocaleTimeString()}.`;
      show('send-result', true);
    } catch (err) {
      showError(err);
    } finally {
      $('send').disabled = false;
    }
  }

  function resetMessaging() {
    recipient = null;
    $('colleagues').replaceChildren();
    $('recipient').textContent = 'choose a colleague above';
    $('send').disabled = true;
    show('send-result', false);
  }

  function notice(text) {
    $('notice').textContent = text;
    show('notice', true);
  }

  // readCallbackResult shows what the OAuth callback reported in the query
  // string, then removes it so that a reload does not show it again.
  function readCallbackResult(integration) {
    const params = new URLSearchParams(window.location.search);
    const outcome = params.get('teams');
    if (outcome === 'connected') {
      notice('Microsoft Teams is connected.');
    } else if (outcome === 'error' && integration.status !== 'PENDING_ADMIN_APPROVAL') {
      // A pending approval is explained by its own panel; any other failure
      // shows the message the service recorded for it.
      const reason = params.get('reason') || 'unknown';
      const recorded = integration.lastConnectError;
      showError(new Error(recorded ? `${recorded.message} (${reason})` : `Connecting failed (${reason}).`));
    }
    if (outcome) {
      window.history.replaceState(null, '', window.location.pathname);
    }
  }

  async function start() {
    $('connect').addEventListener('click', connect);
    $('disconnect').addEventListener('click', disconnect);
    $('search-form').addEventListener('submit', searchColleagues);
    $('send-form').addEventListener('submit', sendMessage);
    if (!config.token) {
      showError(new Error('This server has no dev recruiter token: dev mode signs one only with an HS256 caller-token secret.'));
      return;
    }
    try {
      readCallbackResult(await refresh());
    } catch (err) {
      showError(err);
    }
  }

  start();
})();
