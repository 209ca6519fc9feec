import { auth, currentUser } from '@clerk/nextjs/server';

// Rendered on the server for every request: the middleware has checked the session token,
// `auth()` reads its claims, `currentUser()` asks the Backend API for the user.
export default async function Protected() {
  const { userId, sessionId } = await auth();
  const user = await currentUser();
  return (
    <div>
      <h1>Protected</h1>
      <p id="greeting">Hello, {user?.firstName} {user?.lastName}</p>
      <p id="email">{user?.primaryEmailAddress?.emailAddress}</p>
      <p id="user-id">{userId}</p>
      <p id="session-id">{sessionId}</p>
    </div>
  );
}
