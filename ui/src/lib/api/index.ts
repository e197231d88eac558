// The UI's only door to the backend. Commands and events are generated from Rust
// (bindings.ts); this module unwraps their results so pages deal in values and typed errors.
import { commands, events, type AppError, type DeviceList, type AppInfo } from "./bindings";

export type { AppError, AppInfo, DeviceList };
export type {
  DemoModeView,
  PortfolioView,
  ValuePoint,
  JournalView,
  EvmAccountView,
  EvmNetworkView,
  SendReview,
  SendView,
  Catalogue,
  Cell,
  DeviceModel,
  Support,
  DemoScreen,
  DevicePrompt,
  DeviceDescriptor,
  DeviceState,
  EmulatorSetting,
  ErrorKind,
  WalletStatus,
  BtcAccountView,
  BtcBalanceView,
  BtcCoinView,
  BtcTxView,
  BtcOutputView,
  BtcReview,
  BtcSent,
  NodeSettings,
  NodeStatusView,
  ReceiveView,
  RecipientInput,
  SyncProgress,
  SaveRequest,
  SavedFile,
  KnownDeviceView,
  FeeWarningSettings,
  TransferView,
} from "./bindings";
import type { FeeWarningSettings, NodeSettings, RecipientInput, SaveRequest } from "./bindings";

import { toApiError } from "./errors";

export { ApiError } from "./errors";

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: AppError };

/** Awaits a generated command and returns its value; every failure becomes an ApiError. */
async function call<T>(p: Promise<Result<T>>): Promise<T> {
  let r: Result<T>;
  try {
    r = await p;
  } catch (e) {
    throw toApiError(e);
  }
  if (r.status === "error") throw toApiError(r.error);
  return r.data;
}

export const api = {
  appInfo: () => call(commands.appInfo()),
  listDevices: () => call(commands.listDevices()),
  frontendReady: (page: string) => call(commands.frontendReady(page)),
  startDemoDevice: () => call(commands.startDemoDevice()),
  stopDemoDevice: () => call(commands.stopDemoDevice()),
  demoScreens: () => call(commands.demoScreens()),
  deviceCatalogue: () => call(commands.deviceCatalogue()),
  portfolio: (network: string) => call(commands.portfolio(network)),
  portfolioRefresh: (network: string) => call(commands.portfolioRefresh(network)),
  portfolioHistory: (network: string, days: number) => call(commands.portfolioHistory(network, days)),
  setCurrency: (currency: string) => call(commands.setCurrency(currency)),
  storeNotice: () => call(commands.storeNotice()),
  demoMode: () => call(commands.demoMode()),
  startDemoMode: () => call(commands.startDemoMode()),
  stopDemoMode: () => call(commands.stopDemoMode()),
  journalEntries: () => call(commands.journalEntries()),
  journalVerify: () => call(commands.journalVerify()),
  evmNetworks: () => call(commands.evmNetworks()),
  evmAddNetwork: (name: string, rpcUrl: string, chainId: string, symbol: string) =>
    call(commands.evmAddNetwork(name, rpcUrl, chainId, symbol)),
  evmSetRpc: (network: string, rpcUrl: string) => call(commands.evmSetRpc(network, rpcUrl)),
  evmAccounts: (network: string) => call(commands.evmAccounts(network)),
  evmAddAccount: (signer: string, index: number, layout: string, address: string | null, label: string) =>
    call(commands.evmAddAccount(signer, index, layout, address, label)),
  evmRemoveAccount: (id: number) => call(commands.evmRemoveAccount(id)),
  evmAddToken: (network: string, contract: string) => call(commands.evmAddToken(network, contract)),
  evmPrepareSend: (network: string, account: number, to: string, amount: string, token: string | null, fee: string) =>
    call(commands.evmPrepareSend(network, account, to, amount, token, fee)),
  evmConfirmSend: (review: number) => call(commands.evmConfirmSend(review)),
  evmSendStatus: (network: string, hash: string) => call(commands.evmSendStatus(network, hash)),
  evmSends: (network: string) => call(commands.evmSends(network)),
  evmTransfers: (network: string) => call(commands.evmTransfers(network)),
  evmListsNative: (network: string) => call(commands.evmListsNative(network)),
  btcAccounts: (network: string) => call(commands.btcAccounts(network)),
  btcAddAccount: (signer: string, kind: string, network: string, index: number, watch: string | null, label: string) =>
    call(commands.btcAddAccount(signer, kind, network, index, watch, label)),
  btcNode: (network: string) => call(commands.btcNode(network)),
  btcSetNode: (network: string, settings: NodeSettings) => call(commands.btcSetNode(network, settings)),
  btcSync: (network: string) => call(commands.btcSync(network)),
  btcReceive: (account: number) => call(commands.btcReceive(account)),
  btcVerifyAddress: (account: number, index: number) => call(commands.btcVerifyAddress(account, index)),
  btcPrepareSend: (account: number, recipients: RecipientInput[], sendMaxTo: string | null, fee: string, coins: string[]) =>
    call(commands.btcPrepareSend(account, recipients, sendMaxTo, fee, coins)),
  btcBump: (account: number, txid: string, fee: string, cpfp: boolean) =>
    call(commands.btcBump(account, txid, fee, cpfp)),
  btcConfirmSend: (review: number) => call(commands.btcConfirmSend(review)),
  knownDevices: () => call(commands.knownDevices()),
  btcFeeWarning: () => call(commands.btcFeeWarning()),
  btcSetFeeWarning: (w: FeeWarningSettings) => call(commands.btcSetFeeWarning(w)),
  saveFile: (req: SaveRequest) => call(commands.saveFile(req)),
  btcExportPsbt: (review: number) => call(commands.btcExportPsbt(review)),
  btcImportPsbt: (review: number, psbt: string) => call(commands.btcImportPsbt(review, psbt)),
  demoRejectNext: (device: string) => call(commands.demoRejectNext(device)),
  btcHistory: (account: number) => call(commands.btcHistory(account)),
  btcCoins: (account: number) => call(commands.btcCoins(account)),
  btcSetLabel: (kind: string, reference: string, label: string) => call(commands.btcSetLabel(kind, reference, label)),
  btcFreeze: (outpoint: string, frozen: boolean) => call(commands.btcFreeze(outpoint, frozen)),
  btcExportLabels: () => call(commands.btcExportLabels()),
  btcImportLabels: (text: string) => call(commands.btcImportLabels(text)),
  btcDiscoverAccounts: (signer: string, kind: string, network: string) =>
    call(commands.btcDiscoverAccounts(signer, kind, network)),
  /** Not a Result: progress or null. */
  btcSyncProgress: () => commands.btcSyncProgress(),
  deviceSupport: () => call(commands.deviceSupport()),
  deviceFingerprint: (id: string) => call(commands.deviceFingerprint(id)),
  devicePrompt: () => call(commands.devicePrompt()),
  answerPinMatrix: (positions: string) => call(commands.answerPinMatrix(positions)),
  answerPassphrase: (passphrase: string | null) => call(commands.answerPassphrase(passphrase)),
  cancelDevicePrompt: () => call(commands.cancelDevicePrompt()),
  walletStatus: () => call(commands.walletStatus()),
  walletNewPhrase: (words: number) => call(commands.walletNewPhrase(words)),
  walletCreate: (answers: string[], passphrase: string, password: string, useKeyring: boolean) =>
    call(commands.walletCreate(answers, passphrase, password, useKeyring)),
  walletRestore: (phrase: string, passphrase: string, password: string, useKeyring: boolean) =>
    call(commands.walletRestore(phrase, passphrase, password, useKeyring)),
  walletUnlock: (password: string | null) => call(commands.walletUnlock(password)),
  walletLock: () => call(commands.walletLock()),
  walletSetAutoLock: (minutes: number) => call(commands.walletSetAutoLock(minutes)),
  walletChangePassword: (old: string, next: string) => call(commands.walletChangePassword(old, next)),
  walletDelete: (password: string, confirm: string) => call(commands.walletDelete(password, confirm)),
  walletReceiveAddress: () => call(commands.walletReceiveAddress()),
  walletSuggest: (word: string) => call(commands.walletSuggest(word)),
  /** Calls `handler` with every new device list; returns the unsubscribe function. */
  onDevicesChanged: (handler: (list: DeviceList) => void) =>
    events.devicesChanged.listen((e) => handler(e.payload.list)),
};
