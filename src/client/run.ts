export interface ClientOptions { port: number; host: string; p2pPort: number; json: boolean }
export async function runClient(_o: ClientOptions): Promise<number> { return 1; }
